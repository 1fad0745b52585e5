/**
 * nemotron-lab generate (usage below, in `command`).
 * Streams the text (or, without tokenizer files, the ids) to stdout; the finish reason and
 * speeds go to stderr, or into the one JSON object printed with --json. Ctrl-C stops cleanly.
 */
import { parse, intFlag, numberFlag, UsageError } from "./args";
import { interruptSignal } from "./interrupt";
import { Checkpoint } from "../src/model/checkpoint";
import { TextTokenizer } from "../src/text/tokenizer";
import { stream, GenerateOptions, GenerationStream } from "../src/generate/generate";
import type { CausalLM } from "../src/model/types";
import type { Command } from "./command";

/** The native model, loaded lazily so this command says clearly when it is not built in. */
export function loadModel(ckpt: Checkpoint): CausalLM {
  let mod: { NemotronH?: { load(c: Checkpoint | string): CausalLM } };
  try {
    mod = require("../src/model/nemotron-h");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" && String((e as Error).message).includes("nemotron-h")) {
      throw new Error("generate: this build has no model forward pass (src/model/nemotron-h.ts is missing)");
    }
    throw e;
  }
  if (!mod.NemotronH) throw new Error("generate: src/model/nemotron-h does not export NemotronH");
  return mod.NemotronH.load(ckpt);
}

export function parseIds(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new UsageError("--ids is empty; give comma-separated token ids like 1,2,3");
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`--ids: '${p}' is not a token id (expected comma-separated integers >= 0)`);
    return Number(p);
  });
}

export async function generateCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    prompt: { type: "string" }, ids: { type: "string" }, chat: { type: "boolean" }, system: { type: "string" },
    "no-think": { type: "boolean" }, "max-tokens": { type: "string" }, "ignore-eos": { type: "boolean" },
    temperature: { type: "string" }, "top-p": { type: "string" }, "top-k": { type: "string" }, "min-p": { type: "string" },
    "repetition-penalty": { type: "string" }, seed: { type: "string" }, stop: { type: "string", multiple: true },
    "max-context": { type: "string" }, json: { type: "boolean" },
  }, ["CKPT"]);
  if ((values.prompt === undefined) === (values.ids === undefined)) throw new UsageError("give exactly one of --prompt TEXT or --ids 1,2,3");
  if (values.ids !== undefined && (values.chat || values.system !== undefined)) throw new UsageError("--chat and --system need --prompt (ids are used as given)");
  const ckpt = Checkpoint.open(positionals[0]);
  const tokenizer = TextTokenizer.tryLoad(ckpt.dir);
  if (values.prompt !== undefined && !tokenizer) {
    throw new UsageError(`${ckpt.dir} has no tokenizer.json, so --prompt cannot be encoded; pass --ids instead`);
  }
  const signal = interruptSignal();
  const options: GenerateOptions = {
    prompt: values.prompt,
    ids: values.ids !== undefined ? parseIds(values.ids) : undefined,
    chat: values.chat,
    system: values.system,
    thinking: values["no-think"] ? false : undefined,
    maxTokens: intFlag("max-tokens", values["max-tokens"]),
    ignoreEos: values["ignore-eos"],
    temperature: numberFlag("temperature", values.temperature),
    topP: numberFlag("top-p", values["top-p"]),
    topK: intFlag("top-k", values["top-k"]),
    minP: numberFlag("min-p", values["min-p"]),
    repetitionPenalty: numberFlag("repetition-penalty", values["repetition-penalty"]),
    seed: intFlag("seed", values.seed),
    stop: values.stop as string[] | undefined,
    maxContext: intFlag("max-context", values["max-context"]),
    signal,
  };
  const model = loadModel(ckpt);
  let gen: GenerationStream;
  try {
    gen = stream(model, tokenizer, options);  // checks the prompt and options before any compute
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^generate: /, ""));
  }
  const textOut = tokenizer !== undefined;
  let first = true;
  for await (const chunk of gen) {
    if (values.json) continue;
    if (textOut) process.stdout.write(chunk.text);
    else { process.stdout.write((first ? "" : " ") + chunk.id); first = false; }
  }
  const r = await gen.result;
  if (values.json) {
    console.log(JSON.stringify({
      prompt_ids: r.promptIds, ids: r.ids, ...(r.text !== undefined ? { text: r.text } : {}),
      finish_reason: r.finishReason, ...(r.stoppedBy !== undefined ? { stopped_by: r.stoppedBy } : {}), prompt_tokens: r.promptTokens, generated_tokens: r.generatedTokens,
      prefill_tokens_per_s: r.prefillTokensPerS, decode_tokens_per_s: r.decodeTokensPerS,
    }));
  } else {
    process.stdout.write("\n");
    const rate = (x: number) => (x > 0 ? x.toFixed(1) : "-");
    console.error(`[${r.finishReason}] ${r.promptTokens} prompt tokens, ${r.generatedTokens} generated; prefill ${rate(r.prefillTokensPerS)} tok/s, decode ${rate(r.decodeTokensPerS)} tok/s`);
  }
  if (r.finishReason === "aborted") {  // main reports it and exits 130
    const e = new Error("generation interrupted");
    e.name = "AbortError";
    throw e;
  }
}

export const command: Command = {
  name: "generate",
  summary: "stream generated text (or ids) from a prompt, with sampling options",
  usage: `nemotron-lab generate CKPT (--prompt TEXT | --ids 1,2,3) [--chat] [--system TEXT] [--no-think]
    [--max-tokens N] [--ignore-eos] [--temperature T] [--top-p P] [--top-k K] [--min-p P]
    [--repetition-penalty R] [--seed S] [--stop TEXT]... [--max-context N] [--json]

--chat / --system / --no-think  wrap the prompt in the checkpoint's chat template (with a system turn, thinking off)
--temperature 0 is greedy; --seed makes sampling reproducible; --stop ends at a string (repeatable)
--json  print one JSON object (ids, text, finish reason, speeds) instead of streaming`,
  example: `nemotron-lab generate models/tiny --prompt "Hello" --max-tokens 16 --temperature 0`,
  run: generateCommand,
};
