/**
 * Quantized checkpoints out, in the two FP8 layouts vLLM loads:
 *
 *  - compressed-tensors ("float-quantized"): config.json quantization_config with one
 *    config group {targets: ["Linear"], weights: {num_bits 8, type float, strategy
 *    tensor|channel|block, symmetric, dynamic false, block_structure}, input_activations}
 *    and `ignore` = every Linear-like module left in high precision (unselected linears,
 *    Mamba conv1d, the MoE router). Tensors: X.weight F8_E4M3, X.weight_scale F32 ([1],
 *    [out, 1] or [ceil(out/b), ceil(in/b)]), X.input_scale F32 [1] for static activations.
 *    Block scales always declare dynamic FP8 input activations per token group (group_size =
 *    the block's columns), as llm-compressor's FP8_BLOCK scheme does: vLLM maps that to its
 *    W8A8 FP8 block path (CompressedTensorsConfig._is_fp8_w8a8 accepts strategy "block" since
 *    vLLM 0.10.2; earlier releases load only tensor and channel scales), while block weights
 *    without input activations take the W8A16 path, which asserts on block weights in the
 *    releases of 2025. Static input scales with block weights are refused for the same reason.
 *  - NVIDIA ModelOpt FP8, as ModelOpt's own export writes it: hf_quant_config.json
 *    {producer, quantization: {quant_algo "FP8", kv_cache_quant_algo, exclude_modules}} and
 *    config.json's flat quantization_config {quant_method "modelopt", quant_algo, config_groups,
 *    ignore} (ModelOpt's convert_hf_quant_config_format; vLLM reads `ignore` there and
 *    `exclude_modules` only inside hf_quant_config.json's `quantization`). Per-tensor
 *    X.weight_scale and X.input_scale F32 scalars (vLLM's ModelOpt FP8 is W8A8 static).
 *
 * lm_head stays in high precision in every export, even when selected (all-linear): vLLM's
 * NemotronH builds lm_head as a ParallelLMHead that these FP8 configs leave unquantized, so an
 * FP8 lm_head would be an unknown weight_scale and codes read as BF16. The export says so
 * (ExportResult.keptHighPrecision, a warning); live quantization may still explore it.
 *
 * Streaming through SafetensorsWriter: a weight is read (memory-mapped), quantized and
 * written one at a time, so the model is never in memory. Everything else is copied:
 * unquantized tensors as stored (unselected FP8 weights of an FP8 source are dequantised
 * to BF16), config.json, tokenizer and generation files.
 */
import * as fs from "fs";
import * as path from "path";
import { Checkpoint } from "../model/checkpoint";
import { SafetensorsWriter } from "../io/writer";
import { configJsonText } from "../io/config-json";
import { float32ToBf16 } from "../tensor/convert";
import { isFloat8 } from "../tensor/dtype";
import { Granularity, QuantizeOptions, QuantizedTensor, blockShape, quantizeTensor } from "../fp8/quantize";
import { QuantReport, reportRow } from "./report";
import { TensorInfo, selectTensors, tensorInfos } from "./selector";
import type { QuantSession } from "./session";

export type ExportFormat = "compressed-tensors" | "modelopt";

export interface ExportOptions extends QuantizeOptions {
  export: ExportFormat;
  /** Selector (see ./selector); default "nvidia-fp8". Ignored when exporting a session. */
  layers?: string;
  force?: boolean;
  /** Activation quantization declared in the checkpoint: static (needs input scales) or dynamic per token. */
  activations?: "static" | "dynamic";
  /** Static input scales by weight name (from a calibrated session). */
  inputScales?: Map<string, number>;
  /** Used for weights without a calibrated input scale (ModelOpt needs one per linear). */
  defaultInputScale?: number;
  maxShardBytes?: number;
  signal?: AbortSignal;
}

export interface ExportResult {
  dir: string;
  format: ExportFormat;
  quantized: string[];
  ignored: string[];
  files: string[];
  report: QuantReport;
  warnings: string[];
  /** Selected weights written in high precision anyway, with why (lm_head: vLLM does not quantize it). */
  keptHighPrecision: { name: string; reason: string }[];
}

/** Selected weights an export keeps in high precision: vLLM loads them only unquantized. */
export const EXPORT_KEEPS_HIGH_PRECISION: Readonly<Record<string, string>> = {
  "lm_head.weight": "vLLM's NemotronH builds lm_head unquantized (a ParallelLMHead the FP8 configs do not quantize), so it is written in BF16 and listed in ignore",
};

/** Files beside the weights that a quantized checkpoint keeps (tokenizer, chat template, ...). */
const COPY_FILES = /^(tokenizer.*|special_tokens_map\.json|generation_config\.json|chat_template.*|vocab\..*|merges\.txt|.*\.jinja|.*\.py|README\.md|LICENSE.*)$/;

/** Quantizes the selected weights of a checkpoint on disk and writes a vLLM-loadable FP8 checkpoint. */
export async function exportQuantized(source: Checkpoint | string, outDir: string, options: ExportOptions): Promise<ExportResult> {
  const ckpt = typeof source === "string" ? Checkpoint.open(source) : source;
  if (!ckpt.config) throw new Error(`${ckpt.dir}: no config.json; a quantized export needs the model's config`);
  ckpt.readAhead();  // every tensor is read (and copied or quantized) in file order
  const universe = tensorInfos(ckpt.config, (n) => ckpt.has(n));
  const names = selectTensors(options.layers ?? "nvidia-fp8", universe, { force: options.force });
  const layoutOf = (name: string): Layout => {
    const t = ckpt.tensor(name), g = options.granularity ?? "tensor";
    const [blockRows, blockCols] = blockShape(name, t.rows, t.cols, g, options.blockSize, options.pad);
    return { granularity: g, blockRows, blockCols };
  };
  return write(ckpt, outDir, universe, names, (name) => quantizeTensor(ckpt.tensor(name), options), layoutOf, options);
}

/** Writes the quantization a live session applied (same codes and scales) as a checkpoint. */
export async function exportSession(session: QuantSession, source: Checkpoint | string, outDir: string,
  options: Omit<ExportOptions, keyof QuantizeOptions | "layers" | "force" | "inputScales">): Promise<ExportResult> {
  const ckpt = typeof source === "string" ? Checkpoint.open(source) : source;
  if (!ckpt.config) throw new Error(`${ckpt.dir}: no config.json; a quantized export needs the model's config`);
  const universe = tensorInfos(ckpt.config, (n) => ckpt.has(n));
  const byName = new Map(session.entries.map((e) => [e.q.name, e]));
  const inputScales = new Map(session.entries.filter((e) => e.inputScale !== undefined).map((e) => [e.q.name, e.inputScale!]));
  const activations = options.activations ?? session.activations?.mode;
  return write(ckpt, outDir, universe, session.names, (name) => byName.get(name)!.q, (name) => byName.get(name)!.q, { ...options, format: session.entries[0]?.q.format, activations, inputScales });
}

interface Layout { granularity: Granularity; blockRows: number; blockCols: number }

async function write(ckpt: Checkpoint, outDir: string, universe: TensorInfo[], names: string[], quantize: (name: string) => QuantizedTensor,
  layoutOf: (name: string) => Layout, options: Omit<ExportOptions, keyof QuantizeOptions> & Partial<QuantizeOptions>): Promise<ExportResult> {
  const fmt = options.export;
  const keptHighPrecision = names.filter((n) => n in EXPORT_KEEPS_HIGH_PRECISION).map((name) => ({ name, reason: EXPORT_KEEPS_HIGH_PRECISION[name] }));
  names = names.filter((n) => !(n in EXPORT_KEEPS_HIGH_PRECISION));
  if (!names.length) throw new RangeError(`export: nothing left to quantize: ${keptHighPrecision.map((k) => `${k.name} stays high precision (${k.reason})`).join("; ")}`);
  if (fmt !== "compressed-tensors" && fmt !== "modelopt") throw new RangeError(`export must be "compressed-tensors" or "modelopt", got ${JSON.stringify(fmt)}`);
  if ((options.format ?? "e4m3") !== "e4m3") throw new RangeError(`${fmt} FP8 checkpoints are E4M3 (vLLM loads float8_e4m3fn weights); quantize with format e4m3 to export`);
  if (path.resolve(outDir) === path.resolve(ckpt.dir)) throw new Error(`export: the output folder is the source checkpoint (${outDir}); choose another`);
  const selected = new Set(names);
  const info = new Map(universe.map((t) => [t.name, t]));
  const warnings: string[] = keptHighPrecision.map((k) => `${k.name} kept in high precision: ${k.reason}`);
  checkFusedGroups(names, universe);
  const activations = options.activations ?? (fmt === "modelopt" ? "static" : undefined);
  if (fmt === "modelopt" && activations !== "static") throw new RangeError("modelopt FP8 checkpoints quantize activations statically per tensor (input_scale); use compressed-tensors for weight-only or dynamic activations");
  const inputScale = (name: string): number => {
    const s = options.inputScales?.get(name) ?? options.defaultInputScale;
    if (s === undefined) {
      throw new RangeError(`${name}: no static input scale. ${fmt === "modelopt" ? "ModelOpt FP8 needs" : "Static activations need"} one per linear: ` +
        "calibrate activations on prompts (quantizeModel with activations: {mode: \"static\", prompts}) and export that session, pass defaultInputScale, or export compressed-tensors with dynamic or no activation quantization");
    }
    return s;
  };
  if (activations === "static") for (const n of names) inputScale(n);
  if (options.defaultInputScale !== undefined && names.some((n) => !options.inputScales?.has(n))) {
    warnings.push(`input_scale ${options.defaultInputScale} used for linears without a calibrated scale`);
  }

  const writer = new SafetensorsWriter(outDir, { maxShardBytes: options.maxShardBytes, metadata: { format: "pt" }, signal: options.signal, label: `writing ${fmt}` });
  const rows: ReturnType<typeof reportRow>[] = [];
  const skip = new Set<string>();
  for (const n of ckpt.names()) {
    const t = ckpt.tensor(n);
    if (isFloat8(t.dtype) && t.scale) skip.add(t.scale.tensor.name);
    if (n.endsWith(".input_scale")) skip.add(n);  // the source's activation scales describe its own quantization
  }
  // One scheme per checkpoint (one config group), known before any tensor is written.
  const layouts = names.map((n) => layoutOf(n));
  const { granularity, blockRows, blockCols } = layouts[0];
  for (const [i, l] of layouts.entries()) {
    if (l.granularity !== granularity || (granularity === "block" && (l.blockRows !== blockRows || l.blockCols !== blockCols))) {
      throw new Error(`export: ${names[i]} is ${l.granularity}-scaled but ${names[0]} is ${granularity}; one scheme per export`);
    }
  }
  if (granularity === "block" && activations === "static") {
    throw new RangeError("compressed-tensors block scales go with dynamic input activations (vLLM's W8A8 FP8 block path quantizes activations per token group at run time); export without static input scales, or use tensor/channel granularity");
  }
  if (fmt === "modelopt" && granularity !== "tensor") throw new RangeError(`modelopt FP8 uses per-tensor weight scales; quantize with granularity "tensor" (got ${granularity}) or export compressed-tensors`);
  for (const n of ckpt.names()) {
    if (skip.has(n)) continue;
    const t = ckpt.tensor(n);
    if (selected.has(n)) {
      const base = n.slice(0, -".weight".length);
      const l = layouts[names.indexOf(n)];
      const scaleShape = fmt === "modelopt" ? [] : granularity === "tensor" ? [1] : granularity === "channel" ? [t.rows, 1] : [Math.ceil(t.rows / l.blockRows), Math.ceil(t.cols / l.blockCols)];
      // The writer asks for the weight, then its scale: one tensor's codes in memory at a time.
      let q: QuantizedTensor | undefined;
      writer.add(n, "F8_E4M3", [...t.shape], () => {
        q = quantize(n);
        rows.push(reportRow(q, info.get(n)?.layer ?? -1, info.get(n)?.kind ?? "mlp", t.nbytes, activations === "static" ? inputScale(n) : undefined));
        return q.codes;
      });
      writer.add(`${base}.weight_scale`, "F32", scaleShape, () => { const sc = q!.scales; q = undefined; return sc; });
      if (activations === "static") writer.add(`${base}.input_scale`, "F32", fmt === "modelopt" ? [] : [1], () => new Float32Array([inputScale(n)]));
    } else if (isFloat8(t.dtype)) {
      writer.add(n, "BF16", [...t.shape], () => float32ToBf16(t.values()));
      if (n.endsWith(".weight")) warnings.push(`${n}: unselected FP8 weight written as BF16 (dequantised)`);
    } else {
      writer.add(n, t.dtype, [...t.shape], () => t.bytes());
    }
  }
  const ignored = ignoreList(universe, selected);
  const files = await writer.write();
  const raw = { ...ckpt.config!.raw };
  delete raw.quantization_config;
  if (fmt === "compressed-tensors") {
    raw.quantization_config = compressedTensorsConfig(granularity, [blockRows, blockCols], activations, ignored);
  } else {
    const producer = { name: "modelopt", version: "nemotron-lab" };
    raw.quantization_config = modeloptConfig(ignored, producer);
    fs.writeFileSync(path.join(outDir, "hf_quant_config.json"), JSON.stringify({ producer, quantization: { quant_algo: "FP8", kv_cache_quant_algo: null, exclude_modules: ignored } }, null, 2) + "\n");
    files.push(path.join(outDir, "hf_quant_config.json"));
  }
  fs.writeFileSync(path.join(outDir, "config.json"), configJsonText(raw));
  files.push(path.join(outDir, "config.json"));
  for (const f of fs.readdirSync(ckpt.dir)) {
    if (COPY_FILES.test(f) && fs.statSync(path.join(ckpt.dir, f)).isFile()) {
      fs.copyFileSync(path.join(ckpt.dir, f), path.join(outDir, f));
      files.push(path.join(outDir, f));
    }
  }
  return { dir: outDir, format: fmt, quantized: names, ignored, files, report: new QuantReport(rows, `FP8 export (${fmt})`), warnings, keptHighPrecision };
}

/** config.json's quantization_config for ModelOpt FP8, in the shape ModelOpt's export converts hf_quant_config.json to. */
export function modeloptConfig(ignore: string[], producer: { name: string; version: string }): Record<string, unknown> {
  const fp8 = { dynamic: false, num_bits: 8, type: "float" };
  return {
    quant_method: "modelopt",
    quant_algo: "FP8",
    config_groups: { group_0: { input_activations: fp8, weights: fp8, targets: ["Linear"] } },
    ignore,
    producer,
  };
}

/** compressed-tensors' quantization_config for one FP8 scheme. */
export function compressedTensorsConfig(granularity: "tensor" | "channel" | "block", block: [number, number],
  activations: "static" | "dynamic" | undefined, ignore: string[]): Record<string, unknown> {
  const weights = {
    num_bits: 8, type: "float", symmetric: true, dynamic: false, strategy: granularity,
    group_size: null, block_structure: granularity === "block" ? block : null, actorder: null, observer: "minmax",
  };
  // Block weights: dynamic per-token-group activations (llm-compressor's FP8_BLOCK), see the header.
  const input = granularity === "block"
    ? { num_bits: 8, type: "float", symmetric: true, dynamic: true, strategy: "group", group_size: block[1], block_structure: null, observer: null }
    : activations === undefined ? null : {
      num_bits: 8, type: "float", symmetric: true, dynamic: activations === "dynamic",
      strategy: activations === "dynamic" ? "token" : "tensor", group_size: null, block_structure: null, observer: activations === "dynamic" ? null : "minmax",
    };
  return {
    quant_method: "compressed-tensors",
    format: "float-quantized",
    quantization_status: "compressed",
    global_compression_ratio: null,
    kv_cache_scheme: null,
    config_groups: { group_0: { targets: ["Linear"], weights, input_activations: input, output_activations: null, format: "float-quantized" } },
    ignore,
  };
}

/**
 * Modules vLLM builds as Linear layers that stay in high precision: unselected linears,
 * Mamba conv1d (a ColumnParallelLinear in vLLM) and the MoE router gate.
 */
export function ignoreList(universe: TensorInfo[], selected: Set<string>): string[] {
  const out: string[] = [];
  for (const t of universe) {
    const linearLike = t.linear || /\.mixer\.conv1d\.weight$/.test(t.name) || /\.mixer\.gate\.weight$/.test(t.name);
    if (linearLike && !selected.has(t.name)) out.push(t.module);
  }
  return out;
}

/** vLLM fuses q/k/v into qkv_proj: all three must share one scheme, quantized or not. */
function checkFusedGroups(names: string[], universe: TensorInfo[]): void {
  const sel = new Set(names);
  for (const t of universe) {
    const m = /^(.*\.mixer)\.q_proj\.weight$/.exec(t.name);
    if (!m) continue;
    const parts = ["q_proj", "k_proj", "v_proj"].map((p) => `${m[1]}.${p}.weight`);
    const n = parts.filter((p) => sel.has(p)).length;
    if (n !== 0 && n !== 3) {
      throw new RangeError(`export: ${m[1]} has ${parts.filter((p) => sel.has(p)).map((p) => p.split(".").slice(-2, -1)[0]).join(", ")} selected but not all of q_proj, k_proj, v_proj; ` +
        "vLLM fuses them into one qkv_proj, so quantize all three or none");
    }
  }
}
