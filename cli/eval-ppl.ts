/**
 * nemotron-lab eval-ppl CKPT --text FILE [--stride N] [--max-tokens N] [--limit N] [--dt-clamp none|hf] [--json]
 * Perplexity of a checkpoint on a UTF-8 text file, in windows of --max-tokens (default 1024)
 * that each start with the tokenizer's BOS and score --stride new tokens (default: no overlap).
 * A progress bar on stderr; Ctrl-C stops and reports the windows done.
 */
import * as fs from "fs";
import { intFlag, parse, UsageError } from "./args";
import { interruptSignal } from "./interrupt";
import { Checkpoint } from "../src/model/checkpoint";
import { TextTokenizer } from "../src/text/tokenizer";
import { NemotronH } from "../src/model/nemotron-h";
import { windowedPerplexity } from "../src/eval/perplexity";
import { progress } from "../src/util/progress";
import type { Command } from "./command";

export function evalPplCommand(argv: string[]): number {
  const { values, positionals } = parse(argv, {
    text: { type: "string" }, stride: { type: "string" }, "max-tokens": { type: "string" }, limit: { type: "string" },
    "dt-clamp": { type: "string" }, json: { type: "boolean" },
  }, ["CKPT"]);
  if (values.text === undefined) throw new UsageError("--text FILE is required (a UTF-8 text file to score)");
  const window = intFlag("max-tokens", values["max-tokens"], 1024)!;
  if (window < 2) throw new UsageError(`--max-tokens must be >= 2 (BOS plus one token), got ${window}`);
  const stride = intFlag("stride", values.stride);
  if (stride !== undefined && (stride < 1 || stride > window - 1)) throw new UsageError(`--stride must be in [1, ${window - 1}] (--max-tokens minus the BOS), got ${stride}`);
  const limit = intFlag("limit", values.limit);
  if (limit !== undefined && limit < 1) throw new UsageError(`--limit must be >= 1 token, got ${limit}`);
  const clamp = values["dt-clamp"] ?? "none";
  if (clamp !== "none" && clamp !== "hf") throw new UsageError(`--dt-clamp must be none or hf, got '${clamp}'`);
  let text: string;
  try {
    text = fs.readFileSync(values.text, "utf8");
  } catch (e) {
    throw new UsageError(`--text ${values.text}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const ckpt = Checkpoint.open(positionals[0]);
  const tokenizer = TextTokenizer.tryLoad(ckpt.dir);
  if (!tokenizer) throw new UsageError(`${ckpt.dir} has no tokenizer.json, so --text cannot be encoded`);
  const prefix = tokenizer.encode("");  // what the post-processor puts first (BOS on Nemotron)
  let ids = tokenizer.encode(text, { addSpecialTokens: false });
  if (limit !== undefined) ids = ids.slice(0, limit);
  if (ids.length < 1) throw new UsageError(`--text ${values.text} has no tokens`);
  const model = NemotronH.load(ckpt, { dtClamp: clamp });
  const signal = interruptSignal();
  const bar = progress("eval-ppl", ids.length);
  const t0 = performance.now();
  let r;
  try {
    r = windowedPerplexity(model, ids, {
      window, stride, prefix, signal,
      onWindow: (done) => bar.update(done, `${Math.round(done / ((performance.now() - t0) / 1000))} tok/s`),
    });
  } finally {
    bar.finish();
  }
  const out = {
    checkpoint: ckpt.dir, text: values.text, perplexity: r.perplexity, nll: r.nll, scored: r.scored, total: ids.length,
    windows: r.windows, window, stride: stride ?? window - prefix.length, dtClamp: clamp,
    tokensPerSecond: r.processed / r.seconds, seconds: r.seconds, interrupted: r.interrupted,
  };
  if (values.json) console.log(JSON.stringify(out));
  else {
    console.log(`${r.interrupted ? "interrupted: " : ""}perplexity ${r.perplexity.toFixed(3)} (mean NLL ${r.nll.toFixed(4)} nats) over ${r.scored}${r.interrupted ? ` of ${ids.length}` : ""} tokens of ${values.text}`);
    console.log(`${r.windows} windows of <= ${window} tokens, stride ${out.stride}, dt clamp ${clamp}; ${out.tokensPerSecond.toFixed(0)} tokens/s (${r.seconds.toFixed(1)} s)`);
  }
  return r.interrupted ? 130 : 0;
}

export const command: Command = {
  name: "eval-ppl",
  summary: "perplexity of a checkpoint on a text file (and tokens/s), with a progress bar",
  usage: `nemotron-lab eval-ppl CKPT --text FILE [--stride N] [--max-tokens N] [--limit N] [--dt-clamp none|hf] [--json]

--text        a UTF-8 text file to score
--max-tokens  the window length, BOS included (default 1024)
--stride      new tokens scored per window (default: windows do not overlap)
--limit       score at most N tokens of the text
--dt-clamp    none (default) or hf (HF's prefill clamp of dt to time_step_min)
--json        print the result as JSON`,
  example: "nemotron-lab eval-ppl models/nano-fortunes --text models/nano-fortunes/heldout.txt --limit 512",
  run: evalPplCommand,
};
