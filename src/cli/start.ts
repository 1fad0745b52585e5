/**
 * nemotron-lab start (`npm start`): the tour. Runs every tutorial notebook in notebooks/ headlessly
 * on the bundled model, writes the report (out/index.html, one page per notebook) and prints what
 * the run showed: notebooks, cells and plots, the FP8 figures of the bundled model under NVIDIA's
 * FP8 layout (perplexity and KL against the original), decode speed, and where the report is.
 */
import * as path from "path";
import { realStdoutWrite } from "../../kernel/session/host";
import { Checkpoint } from "../io/checkpoint";
import { NemotronH } from "../model/nemotron-h";
import { TextTokenizer } from "../generate/tokenizer";
import { generate } from "../generate/generate";
import { evaluateQuantization } from "../quant/compare";
import { bundledModel } from "../tiny/bundled";
import { packageRoot } from "../util/package-root";
import { exitWhenDone, failureLines, notebookFiles, runNotebooks } from "./run";
import { parse } from "./args";

/** Text the perplexity is measured on, and prompts the KL is measured on. */
const EVAL_TEXT = "Mamba layers keep a fixed-size state, so memory does not grow with the context. " +
  "A few attention layers look back over every token. Together they make a hybrid model that is fast at long context.";
const PROMPTS = ["The capital of France is", "Hybrid models mix Mamba layers with", "def fibonacci(n):", "FP8 stores each weight in eight bits"];

interface ModelFigures {
  dir: string;
  describe: string;
  weights: number;
  perplexity?: { base: number; quantized: number };
  klMean: number;
  top1: number;
  decodeTokensPerS: number;
}

/** The bundled model's FP8 figures (nvidia-fp8 layout, E4M3 per tensor) and its decode speed. */
async function modelFigures(): Promise<ModelFigures> {
  const dir = await bundledModel();
  const model = NemotronH.load(Checkpoint.open(dir));
  const tok = TextTokenizer.load(dir);
  const speed = await generate(model, tok, { prompt: PROMPTS[0], maxTokens: 64, temperature: 0, ignoreEos: true });
  const { session, comparison } = evaluateQuantization(model, { layers: "nvidia-fp8", format: "e4m3", granularity: "tensor" },
    { prompts: PROMPTS.map((p) => tok.encode(p)), perplexityIds: tok.encode(EVAL_TEXT), generate: 0 });
  const weights = session.entries.length;
  session.revert();
  const c = model.config;
  return {
    dir, weights,
    describe: `NemotronH ${c.hybrid_override_pattern}: ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${model.vocabSize}`,
    perplexity: comparison.perplexity, klMean: comparison.shift.klMean, top1: comparison.shift.top1Agreement,
    decodeTokensPerS: speed.decodeTokensPerS,
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
  const ppl = fig.perplexity ? `perplexity ${fig.perplexity.base.toFixed(2)} -> ${fig.perplexity.quantized.toFixed(2)}, ` : "";
  const fp8Line = `${fig.weights} weights in FP8 E4M3 (nvidia-fp8 layout): ${ppl}KL mean ${fig.klMean.toExponential(2)} nats, top-1 agreement ${(fig.top1 * 100).toFixed(1)}%`;
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
    "  npx nemotron-lab kernel install --user",
    "  jupyter lab notebooks/",
    "",
  ];
  realStdoutWrite(lines.join("\n"));
  for (const line of failureLines(result)) process.stderr.write(`nemotron-lab start: ${line}\n`);
  if (result.interrupted) return 130;
  return ok === files.length ? 0 : 1;
}
