/**
 * FP8 quantization of one tensor, native and fused (native/src/cpu/quantize.cc): reads
 * BF16/F16/F32/FP8 (dequantised with its own scale) in place, picks one scale per tensor,
 * per output channel (row) or per 2-D block, writes codes = fp8(x / scale) saturating,
 * and returns the error of the result in the same pass. scale = clip / fmax where clip is
 * the block's amax (default), a percentile of |x|, or the clipping ratio of amax that
 * minimises the squared error over a grid ("search"). Division, not multiplication by
 * 1/scale, so codes equal torch's `(x.float() / scale).clamp(-max, max).to(float8)`.
 */
import { native } from "../backend/native";
import { Tensor } from "../tensor/tensor";
import { DType } from "../tensor/dtype";
import { formatShape } from "../util/format";
import { Fp8Format, FP8_MAX, formatCode, decodeFp8 } from "./codec";
import { QuantErrorMetrics, QuantSums, metricsFromSums } from "./metrics";

export type Granularity = "tensor" | "channel" | "block";

/** How the clipping value of a block is chosen. */
export type ScaleChoice =
  | { kind: "amax" }
  | { kind: "percentile"; percentile: number }
  | { kind: "search"; steps?: number; minRatio?: number };

export interface QuantizeOptions {
  format?: Fp8Format;
  granularity?: Granularity;
  /** Block size for "block" granularity: N (N x N) or [rows, cols]; default 128 x 128. */
  blockSize?: number | [number, number];
  /** "amax" (default), "percentile:99.99", "search" or "search:STEPS:MINRATIO", or the object. */
  scale?: ScaleChoice | string;
  /** Allow partial edge blocks when the block size does not divide the shape. */
  pad?: boolean;
  /** Measure the error in the same pass (default true). */
  metrics?: boolean;
  /** NaN / Inf in the input: "error" (default) or "warn" (quantized anyway: NaN stays NaN, Inf saturates). */
  nonFinite?: "error" | "warn";
  /** Use these scales (block-grid order) instead of choosing them. */
  scales?: Float32Array;
  /** Write the codes here (rows * cols bytes) instead of a new buffer: reuse saves the page faults of a fresh allocation. */
  out?: Uint8Array;
  /** Run the single-threaded reference implementation (for tests). */
  reference?: boolean;
}

export const DEFAULT_BLOCK = 128;
export const SEARCH_DEFAULTS = { steps: 20, minRatio: 0.5 } as const;

export interface QuantizedTensor {
  name: string;
  format: Fp8Format;
  granularity: Granularity;
  scaleChoice: ScaleChoice;
  shape: number[];
  rows: number;
  cols: number;
  blockRows: number;
  blockCols: number;
  codes: Uint8Array;
  /** One scale per block, row-major over the block grid. */
  scales: Float32Array;
  /** Shape of the scale tensor as checkpoints store it: [1], [rows, 1] or [ceil(rows/br), ceil(cols/bc)]. */
  scaleShape: number[];
  /** Error of the dequantised values (undefined when metrics: false). */
  metrics?: QuantErrorMetrics;
  /** NaN / Inf values in the input. */
  nonFinite: number;
  /** Warnings (non-finite values let through, ...). */
  warnings: string[];
  /** Seconds the native pass took. */
  seconds: number;
}

/** Parses "amax", "percentile:99.99", "search", "search:STEPS", "search:STEPS:MINRATIO". */
export function parseScaleChoice(spec: ScaleChoice | string | undefined): ScaleChoice {
  if (spec === undefined) return { kind: "amax" };
  if (typeof spec !== "string") return checkScaleChoice(spec);
  const [kind, a, b] = spec.split(":");
  if (kind === "amax" && a === undefined) return { kind: "amax" };
  if (kind === "percentile") return checkScaleChoice({ kind: "percentile", percentile: a === undefined ? 99.99 : Number(a) });
  if (kind === "search") {
    return checkScaleChoice({ kind: "search", steps: a === undefined ? SEARCH_DEFAULTS.steps : Number(a), minRatio: b === undefined ? SEARCH_DEFAULTS.minRatio : Number(b) });
  }
  throw new RangeError(`scale must be "amax", "percentile:Q" (0 < Q <= 100) or "search[:STEPS[:MINRATIO]]", got ${JSON.stringify(spec)}`);
}

function checkScaleChoice(c: ScaleChoice): ScaleChoice {
  if (c.kind === "percentile" && !(c.percentile > 0 && c.percentile <= 100)) {
    throw new RangeError(`percentile must be in (0, 100], got ${c.percentile}`);
  }
  if (c.kind === "search") {
    const steps = c.steps ?? SEARCH_DEFAULTS.steps, minRatio = c.minRatio ?? SEARCH_DEFAULTS.minRatio;
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`search steps must be an integer >= 1, got ${c.steps}`);
    if (!(minRatio > 0 && minRatio <= 1)) throw new RangeError(`search min ratio must be in (0, 1], got ${c.minRatio}`);
    return { kind: "search", steps, minRatio };
  }
  if (c.kind !== "amax" && c.kind !== "percentile") throw new RangeError(`unknown scale choice ${JSON.stringify(c)}`);
  return c;
}

export function scaleChoiceName(c: ScaleChoice): string {
  return c.kind === "amax" ? "amax" : c.kind === "percentile" ? `percentile:${c.percentile}` : `search:${c.steps}:${c.minRatio}`;
}

/** [blockRows, blockCols] of a granularity for a rows x cols tensor; checks divisibility. */
export function blockShape(name: string, rows: number, cols: number, granularity: Granularity, blockSize?: number | [number, number], pad = false): [number, number] {
  if (granularity === "tensor") return [rows, cols];
  if (granularity === "channel") return [1, cols];
  if (granularity !== "block") throw new RangeError(`granularity must be "tensor", "channel" or "block", got ${JSON.stringify(granularity)}`);
  const [br, bc] = typeof blockSize === "number" ? [blockSize, blockSize] : blockSize ?? [DEFAULT_BLOCK, DEFAULT_BLOCK];
  if (!(Number.isInteger(br) && Number.isInteger(bc) && br > 0 && bc > 0)) throw new RangeError(`block size must be positive integers, got [${br}, ${bc}]`);
  if (!pad && (rows % br || cols % bc)) {
    throw new RangeError(`${name}: block size ${br}x${bc} does not divide its [${rows}, ${cols}] ` +
      `(${rows % br ? `${rows} rows = ${Math.floor(rows / br)} blocks + ${rows % br}` : `${cols} cols = ${Math.floor(cols / bc)} blocks + ${cols % bc}`}); ` +
      "pass pad (--pad) to allow partial edge blocks, or choose a block size that divides both");
  }
  return [br, bc];
}

/** Quantizes a tensor (any float dtype; FP8 input is dequantised with its scale first). */
export function quantizeTensor(t: Tensor, options: QuantizeOptions = {}): QuantizedTensor {
  return run(t, options);
}

/** Quantizes raw values: a Float32Array, or the bits of `dtype` (e.g. a Uint16Array of BF16). */
export function quantizeArray(name: string, values: Float32Array | Uint16Array | Uint8Array, shape: number[], options: QuantizeOptions & { dtype?: DType } = {}): QuantizedTensor {
  return run(Tensor.fromArray(name, values, shape, options.dtype ?? "F32"), options);
}

/** @deprecated name kept for callers of the first version: quantizeArray over float32. */
export function quantizeValues(values: Float32Array, rows: number, cols: number, options: QuantizeOptions = {}): QuantizedTensor {
  return quantizeArray("values", values, [rows, cols], options);
}

function run(t: Tensor, options: QuantizeOptions): QuantizedTensor {
  const { name, dtype, rows, cols } = t;
  const shape = [...t.shape];
  const format = options.format ?? "e4m3";
  const fcode = formatCode(format);
  const granularity = options.granularity ?? "tensor";
  const choice = parseScaleChoice(options.scale);
  const [br, bc] = blockShape(name, rows, cols, granularity, options.blockSize, options.pad);
  const gr = Math.ceil(rows / br), gc = Math.ceil(cols / bc);
  const scales = new Float32Array(gr * gc);
  if (options.scales) {
    if (options.scales.length !== scales.length) throw new RangeError(`${name}: ${options.scales.length} scales given, the ${gr}x${gc} block grid needs ${scales.length}`);
    scales.set(options.scales);
  }
  if (options.out && options.out.length !== rows * cols) throw new RangeError(`${name}: out holds ${options.out.length} bytes, the codes need ${rows * cols}`);
  const codes = options.out ?? new Uint8Array(rows * cols);
  const mode = options.scales ? 3 : choice.kind === "amax" ? 0 : choice.kind === "percentile" ? 1 : 2;
  const wantMetrics = options.metrics ?? true;
  const t0 = performance.now();
  const sums = native().quantizeFp8(...t.nativeArgs(), fcode, br, bc, mode, choice.kind === "percentile" ? choice.percentile : 100,
    choice.kind === "search" ? choice.steps ?? SEARCH_DEFAULTS.steps : 1, choice.kind === "search" ? choice.minRatio ?? SEARCH_DEFAULTS.minRatio : 1,
    scales, codes, wantMetrics, options.reference ?? false);
  const seconds = (performance.now() - t0) / 1000;
  const warnings: string[] = [];
  if (sums.nonfinite > 0) {
    const msg = `${name}: ${sums.nonfinite} NaN/Inf value(s) in ${dtype} ${formatShape(shape)}`;
    if ((options.nonFinite ?? "error") === "error") {
      throw new RangeError(`${msg}; refusing to quantize (scales would hide them). Fix the weights, or pass nonFinite: "warn" ` +
        "to quantize anyway (NaN stays NaN, Inf saturates to the FP8 max; amax ignores them)");
    }
    warnings.push(`${msg}: quantized anyway (NaN stays NaN, Inf saturates)`);
  }
  const scaleShape = granularity === "tensor" ? [1] : granularity === "channel" ? [rows, 1] : [gr, gc];
  return {
    name, format, granularity, scaleChoice: choice, shape, rows, cols, blockRows: br, blockCols: bc, codes, scales, scaleShape,
    metrics: wantMetrics ? metricsFromSums(sums) : undefined, nonFinite: sums.nonfinite, warnings, seconds,
  };
}

/** The FP8 Tensor of a quantization (codes + attached scale), as the model's replaceWeight takes it. */
export function toFp8Tensor(q: QuantizedTensor): Tensor {
  const t = Tensor.fromArray(q.name, q.codes, q.shape, q.format === "e4m3" ? "F8_E4M3" : "F8_E5M2");
  const scaleName = `${q.name}_scale`;
  t.scale = {
    tensor: Tensor.fromArray(scaleName, q.scales, q.scaleShape),
    granularity: q.granularity === "channel" ? "row" : q.granularity,
    blockRows: q.blockRows,
    blockCols: q.blockCols,
  };
  return t;
}

/** codes * scale as float32, [rows * cols]. */
export function dequantize(q: QuantizedTensor): Float32Array {
  if (q.granularity === "tensor") return decodeFp8(q.codes, q.format, q.scales[0]);
  return toFp8Tensor(q).values();
}

/** The FP8 max of a format, for plots and reports. */
export function fp8Max(format: Fp8Format): number {
  return FP8_MAX[format];
}
