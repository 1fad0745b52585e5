/**
 * nemotron-lab start (`npm start`): the tour. Runs every tutorial notebook in notebooks/ headlessly
 * on the bundled model, writes the report (out/index.html, one page per notebook) and prints what
 * the run showed: notebooks, cells and plots, the FP8 figures of the bundled model under NVIDIA's
 * FP8 layout (perplexity and KL against the original), decode speed, and where the report is.
 */
import * as fs from "fs";
import * as path from "path";
import { realStdoutWrite } from "../kernel/session/host";
import { Checkpoint } from "../src/model/checkpoint";
import { NemotronH } from "../src/model/nemotron-h";
import { TextTokenizer } from "../src/text/tokenizer";
import { generate } from "../src/generate/generate";
import { windowedPerplexity } from "../src/eval/perplexity";
import { distributionShift, recordLogits } from "../src/quant/compare";
import { bundledModel, TRAINED_MODEL } from "../src/tiny/bundled";
import { packageRoot } from "../src/util/package-root";
import { exitWhenDone, failureLines, notebookFiles, runNotebooks } from "./run";
import { parse } from "./args";
import type { Command } from "./command";

/** Tokens of the trained model's held-out text scored for perplexity, and prompts of it for the KL. */
const PPL_TOKENS = 2048, WINDOW = 1024, KL_PROMPTS = 4, KL_PROMPT_TOKENS = 96;

interface ModelFigures {
  dir: string;
  describe: string;
  /** The FP8 checkpoint in NVIDIA's layout and how many of its weights are FP8. */
  fp8Dir: string;
  fp8Weights: number;
  perplexity: { base: number; fp8: number; tokens: number; text: string };
  klMean: number;
  top1: number;
  decodeTokensPerS: number;
}

/**
 * The bundled model against its FP8 twin in NVIDIA's official layout (nvidia-fp8: E4M3 Mamba and
 * MLP projections, static input scales): perplexity on the model's held-out text (or, for a model
 * without one, its own greedy continuation), KL of next-token distributions, and decode speed.
 */
async function modelFigures(): Promise<ModelFigures> {
  const dir = await bundledModel(TRAINED_MODEL);
  const fp8Dir = await bundledModel(`${TRAINED_MODEL}-fp8`);
  const base = NemotronH.load(Checkpoint.open(dir)), fp8 = NemotronH.load(Checkpoint.open(fp8Dir));
  const tok = TextTokenizer.load(dir);
  const speed = await generate(base, tok, { prompt: "The", maxTokens: 64, temperature: 0, ignoreEos: true });
  const heldout = path.join(dir, "heldout.txt");
  const ids = fs.existsSync(heldout) ? tok.encode(fs.readFileSync(heldout, "utf8"), { addSpecialTokens: false }).slice(0, PPL_TOKENS) : speed.ids;
  const prefix = tok.encode("");  // BOS, as every training sequence starts
  const ppl = (m: NemotronH) => windowedPerplexity(m, ids, { window: WINDOW, prefix }).perplexity;
  const prompts = Array.from({ length: KL_PROMPTS }, (_, i) => [...prefix, ...ids.slice(i * KL_PROMPT_TOKENS, (i + 1) * KL_PROMPT_TOKENS)]);
  const shift = distributionShift(recordLogits(base, prompts, { progress: false }), recordLogits(fp8, prompts, { progress: false }));
  const c = base.config;
  return {
    dir, fp8Dir,
    describe: `NemotronH ${c.num_hidden_layers} layers (${c.hybrid_override_pattern}), hidden ${c.hidden_size}, vocab ${base.vocabSize}`,
    fp8Weights: [...Checkpoint.open(fp8Dir).tensors.values()].filter((t) => t.dtype === "F8_E4M3").length,
    perplexity: { base: ppl(base), fp8: ppl(fp8), tokens: ids.length, text: fs.existsSync(heldout) ? "held-out text" : "its own greedy text" },
    klMean: shift.klMean, top1: shift.top1Agreement, decodeTokensPerS: speed.decodeTokensPerS,
  };
}

/** A path as the user would type it from here: relative inside the current folder, absolute outside. */
function rel(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r === "" ? "." : r.startsWith("..") ? p : r;
}

export async function startCommand(argv: string[] = []): Promise<number> {
  const { values } = parse(argv, { out: { type: "string" } }, []);
  const out = path.resolve((values.out as string | undefined) ?? "out");
  const files = notebookFiles([path.join(packageRoot(), "notebooks")]);
  const t0 = Date.now();
  realStdoutWrite(`nemotron-lab tour: ${files.length} tutorial notebooks on the bundled model, report into ${rel(out)}/\n\n`);
  const fig = await modelFigures();
  const p = fig.perplexity;
  const fp8Line = `${rel(fig.fp8Dir)}, ${fig.fp8Weights} weights in FP8 E4M3 (nvidia-fp8 layout): perplexity ${p.base.toFixed(2)} -> ${p.fp8.toFixed(2)} ` +
    `(${p.tokens} tokens of ${p.text}), KL mean ${fig.klMean.toExponential(2)} nats, top-1 agreement ${(fig.top1 * 100).toFixed(1)}%`;
  const decodeLine = `${fig.decodeTokensPerS.toFixed(0)} tok/s (greedy, 64 tokens, CPU)`;
  const result = await runNotebooks(files, {
    out,
    index: {
      title: "nemotron-lab: the tutorial notebooks",
      intro: `Every tutorial notebook, executed by \`npm start\` on the bundled model (\`${rel(fig.dir)}\`, ${fig.describe}). ` +
        "Each page shows the notebook with its outputs; the `.ipynb` beside it opens in JupyterLab.",
      summary: [["model", `${rel(fig.dir)}: ${fig.describe}`], ["FP8", fp8Line], ["decode", decodeLine]],
    },
  });
  exitWhenDone();
  const cells = result.runs.reduce((n, r) => n + r.cellsRun, 0), plots = result.runs.reduce((n, r) => n + r.plots, 0);
  const ok = result.runs.filter((r) => r.status === "ok").length;
  const lines = [
    "",
    `notebooks  ${ok} of ${files.length} ran top to bottom: ${cells} cells, ${plots} plots, ${((Date.now() - t0) / 1000).toFixed(1)} s in all`,
    `model      ${rel(fig.dir)}: ${fig.describe}`,
    `FP8        ${fp8Line}`,
    `decode     ${decodeLine}`,
    `report     ${rel(result.files.index)}  (file://${result.files.index})`,
    "",
    "Next: the same notebooks, live in JupyterLab:",
    "  npm run kernel-install -- --user",
    "  jupyter lab notebooks/",
    "",
  ];
  realStdoutWrite(lines.join("\n"));
  for (const line of failureLines(result)) process.stderr.write(`nemotron-lab start: ${line}\n`);
  if (result.interrupted) return 130;
  return ok === files.length ? 0 : 1;
}

export const command: Command = {
  name: "start",
  summary: "the tour: run every tutorial notebook on the bundled model, write out/index.html, print the figures",
  usage: `nemotron-lab start [--out DIR]

--out  where the report goes (default out/)`,
  example: "nemotron-lab start --out /tmp/tour",
  run: (argv) => startCommand(argv),
};
