/**
 * nemotron-lab quantize (usage below, in `command`).
 * Quantizes the selected weights of a checkpoint (one tensor at a time, memory-mapped),
 * prints the error table, optionally writes a quantized checkpoint and an HTML report.
 */
import * as fs from "fs";
import { parse, numberFlag, intFlag, UsageError } from "./args";
import { interruptSignal } from "./interrupt";
import { Checkpoint } from "../src/model/checkpoint";
import { Fp8Format } from "../src/fp8/codec";
import { Granularity, QuantizeOptions, parseScaleChoice, quantizeTensor } from "../src/fp8/quantize";
import { SelectorError, selectTensors, tensorInfos } from "../src/quant/selector";
import { QuantReport, reportRow } from "../src/quant/report";
import { ExportFormat, exportQuantized, exportSession } from "../src/quant/export";
import { quantizeModel } from "../src/quant/session";
import { NemotronH } from "../src/model/nemotron-h";
import { TextTokenizer } from "../src/text/tokenizer";
import { progress } from "../src/util/progress";
import { abortError } from "../src/util/cancel";
import { htmlPage, PagePart } from "../src/viz/figure";
import { errorHeatmap, errorHistogram, sqnrByLayer, valueHistogram } from "../src/quant/plots";
import type { Command } from "./command";

/** --calibrate values: token ids ("1,2,3") or text (needs the checkpoint's tokenizer). */
function calibrationPrompts(dir: string, values: string[]): number[][] {
  let tok: TextTokenizer | undefined;
  return values.map((v) => {
    if (/^\s*\d+(\s*,\s*\d+)*\s*$/.test(v)) return v.split(",").map(Number);
    tok ??= TextTokenizer.load(dir);
    return tok.encode(v);
  });
}

export async function quantizeCommand(argv: string[]): Promise<void> {
  const { values: v, positionals } = parse(argv, {
    layers: { type: "string" }, format: { type: "string" }, granularity: { type: "string" }, "block-size": { type: "string" },
    pad: { type: "boolean" }, scale: { type: "string" }, force: { type: "boolean" }, out: { type: "string" }, export: { type: "string" },
    "input-scale": { type: "string" }, calibrate: { type: "string", multiple: true }, report: { type: "string" },
    "non-finite": { type: "string" },
  }, ["CKPT"]);
  const format = (v.format ?? "e4m3") as Fp8Format;
  if (format !== "e4m3" && format !== "e5m2") throw new UsageError(`--format must be e4m3 or e5m2, got '${v.format}'`);
  const granularity = (v.granularity ?? "tensor") as Granularity;
  if (!["tensor", "channel", "block"].includes(granularity)) throw new UsageError(`--granularity must be tensor, channel or block, got '${v.granularity}'`);
  const blockSize = intFlag("block-size", v["block-size"]);
  if (blockSize !== undefined && granularity !== "block") throw new UsageError("--block-size needs --granularity block");
  if (blockSize !== undefined && blockSize < 1) throw new UsageError(`--block-size must be positive, got ${blockSize}`);
  let scale;
  try { scale = parseScaleChoice(v.scale); } catch (e) { throw new UsageError(`--scale: ${(e as Error).message}`); }
  const nonFinite = (v["non-finite"] ?? "error") as "error" | "warn";
  if (nonFinite !== "error" && nonFinite !== "warn") throw new UsageError(`--non-finite must be error or warn, got '${nonFinite}'`);
  if ((v.out === undefined) !== (v.export === undefined)) throw new UsageError("--out and --export go together");
  const exportFormat = v.export as ExportFormat | undefined;
  if (exportFormat && exportFormat !== "compressed-tensors" && exportFormat !== "modelopt") throw new UsageError(`--export must be compressed-tensors or modelopt, got '${v.export}'`);
  const opts: QuantizeOptions = { format, granularity, blockSize, pad: v.pad, scale, nonFinite };
  const layers = v.layers ?? "nvidia-fp8";
  const signal = interruptSignal();

  const ckpt = Checkpoint.open(positionals[0]);
  if (!ckpt.config) throw new UsageError(`${positionals[0]}: no config.json, so there are no layers to select`);
  ckpt.readAhead();  // the selected weights are all read: page them in ahead of the quantizer
  console.log(`${ckpt.dir}: NemotronH ${ckpt.config.hybrid_override_pattern}, weights ${ckpt.weightFormat}`);
  const universe = tensorInfos(ckpt.config, (n) => ckpt.has(n));
  let names: string[];
  try { names = selectTensors(layers, universe, { force: v.force }); } catch (e) {
    if (e instanceof SelectorError) throw new UsageError(`--layers: ${e.message}`);
    throw e;
  }
  let report: QuantReport;
  const calibration = v.calibrate as unknown as string[] | undefined;
  if (calibration && !exportFormat) throw new UsageError("--calibrate sets the static input scales of an export: it needs --out and --export");
  if (exportFormat) {
    const defaultInputScale = numberFlag("input-scale", v["input-scale"]);
    // Static input scales calibrated on prompts through the live model (its activation hooks).
    const res = calibration
      ? await exportSession(quantizeModel(NemotronH.load(ckpt), { ...opts, layers, force: v.force, signal,
        activations: { mode: "static", prompts: calibrationPrompts(ckpt.dir, calibration) } }), ckpt, v.out!, { export: exportFormat, signal, defaultInputScale })
      : await exportQuantized(ckpt, v.out!, { ...opts, export: exportFormat, layers, force: v.force, signal, defaultInputScale });
    report = res.report;
    for (const w of res.warnings) console.warn(`warning: ${w}`);
    console.log(`wrote ${exportFormat} checkpoint ${v.out}: ${res.quantized.length} FP8 weights, ${res.ignored.length} linear modules kept in high precision` +
      (res.keptHighPrecision.length ? ` (${res.keptHighPrecision.map((k) => k.name).join(", ")} among them although selected: vLLM loads it only unquantized)` : ""));
  } else {
    const info = new Map(universe.map((t) => [t.name, t]));
    const bar = progress("quantizing", names.length);
    const rows = [];
    try {
      for (const n of names) {
        if (signal.aborted) throw abortError(signal);
        const t = ckpt.tensor(n), q = quantizeTensor(t, opts);
        for (const w of q.warnings) console.warn(`warning: ${w}`);
        rows.push(reportRow(q, info.get(n)!.layer, info.get(n)!.kind, t.nbytes));
        bar.update(rows.length, n);
      }
    } finally {
      bar.finish();
    }
    report = new QuantReport(rows);
  }
  console.log("\n" + report.toString());
  if (v.report) {
    const worst = report.worst(1)[0];
    const parts: PagePart[] = [report.table(), sqnrByLayer(report)];
    if (worst) {
      const t = ckpt.tensor(worst.name), q = quantizeTensor(t, { ...opts, nonFinite: "warn" });
      parts.push(`<h3>Worst tensor: ${worst.name}</h3>`, valueHistogram(t, q), errorHistogram(t, q), errorHistogram(t, q, { relative: true, log: true }), errorHeatmap(t, q));
    }
    fs.writeFileSync(v.report, htmlPage(`FP8 quantization of ${ckpt.dir} (${layers})`, parts));
    console.log(`\nwrote ${v.report}`);
  }
}

export const command: Command = {
  name: "quantize",
  summary: "quantize selected weights to FP8, print the error table, optionally export a checkpoint for vLLM",
  usage: `nemotron-lab quantize CKPT [--layers SELECTOR] [--format e4m3|e5m2] [--granularity tensor|channel|block]
    [--block-size N] [--pad] [--scale amax|percentile:99.99|search[:STEPS[:MINRATIO]]] [--force] [--non-finite error|warn]
    [--out DIR --export compressed-tensors|modelopt [--input-scale S | --calibrate TEXT-or-IDS]...]
    [--report report.html]

--layers     which weights (default nvidia-fp8); SELECTOR: comma-separated terms, '!' excludes, '&' intersects:
             presets all-linear, nvidia-fp8; kinds mamba, attention, mlp, moe, lm_head; layers:0-9+40; path globs
--force      let globs select high-precision tensors (norms, A_log, conv1d ...)
--out/--export  write a quantized checkpoint; --calibrate sets static input scales from prompts (text needs tokenizer.json)
--report     write an HTML page with the error table and plots of the worst tensor`,
  example: `nemotron-lab quantize models/tiny --layers "mamba&layers:0-9,mlp,!*.down_proj" --granularity channel`,
  run: quantizeCommand,
};
