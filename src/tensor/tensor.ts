/**
 * Tensor: a lazy view of one tensor of a checkpoint (or of an in-memory array), named by
 * its path in the file. Bytes stay where they are (memory-mapped) until asked for;
 * FP8 weights carry their scale, so values() and the statistics are always dequantised.
 */
import { native, StoredMatrixArgs } from "../backend/native";
import { DType, DTYPE_SIZE, dtypeCode, isFloat8 } from "./dtype";
import { TensorStats, StatsOptions, Histogram, HistogramOptions, computeStats, computeHistogram } from "./stats";
import { escapeHtml, formatBytes, formatShape } from "../util/format";

/** How an FP8 weight's scale tensor maps onto it: one scale per [blockRows, blockCols] block. */
export interface ScaleInfo {
  tensor: Tensor;
  granularity: "tensor" | "row" | "block";
  blockRows: number;
  blockCols: number;
}

/** Slice spec per dimension: an index, a [start, end) range, or null for all. */
export type SliceSpec = number | [number, number] | null;

export class Tensor {
  scale?: ScaleInfo;
  private scaleCache?: Float32Array;

  constructor(
    readonly name: string,
    readonly dtype: DType,
    readonly shape: readonly number[],
    private readonly load: () => Uint8Array,
    /** The file the bytes live in (undefined for in-memory tensors). */
    readonly file?: string,
  ) {}

  /** A tensor over a Float32Array (or raw bytes of another dtype) held in memory. */
  static fromArray(name: string, data: Float32Array | Uint8Array | Uint16Array, shape: number[], dtype: DType = "F32"): Tensor {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const t = new Tensor(name, dtype, shape, () => bytes);
    if (t.numel * DTYPE_SIZE[dtype] !== bytes.byteLength) {
      throw new Error(`Tensor.fromArray('${name}'): ${bytes.byteLength} bytes do not fit shape ${formatShape(shape)} of ${dtype}`);
    }
    return t;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  /** Bytes of the stored data (the scale tensor not included). */
  get nbytes(): number {
    return this.numel * DTYPE_SIZE[this.dtype];
  }
  /** Rows and columns of the 2-D view used by kernels: [shape[0], product of the rest]. */
  get rows(): number {
    return this.shape.length === 0 ? 1 : this.shape[0];
  }
  get cols(): number {
    return this.shape.length <= 1 ? 1 : this.numel / this.rows;
  }

  /** The stored bytes, zero-copy (a view of the mapped file). */
  bytes(): Uint8Array {
    return this.load();
  }

  /** The scale as float32 values in block-grid order, or undefined when unscaled. */
  scaleValues(): Float32Array | undefined {
    if (!this.scale) return undefined;
    this.scaleCache ??= this.scale.tensor.values();
    return this.scaleCache;
  }

  /**
   * The addon's arguments for rows [start, end) of the 2-D view (StoredMatrixArgs): the one
   * place a tensor is handed to native code. A scaled tensor's start is on a block boundary.
   */
  nativeArgs(start = 0, end = this.rows): StoredMatrixArgs {
    const cols = this.cols, size = DTYPE_SIZE[this.dtype];
    const scale = this.scaleValues();
    const br = this.scale?.blockRows ?? 1, bc = this.scale?.blockCols ?? 1;
    if (scale && start % br !== 0) throw new RangeError(`${this.name}: rows from ${start} do not start on a scale block of ${br} rows`);
    const all = this.bytes();
    const bytes = start === 0 && end === this.rows ? all : all.subarray(start * cols * size, end * cols * size);
    const scaleSub = scale && start > 0 ? scale.subarray((start / br) * Math.ceil(cols / bc)) : scale ?? null;
    return [bytes, dtypeCode(this.dtype), end - start, cols, scaleSub, br, bc];
  }

  /** All values as float32, dequantised with the scale. */
  values(): Float32Array {
    return this.readRows(0, this.rows);
  }

  /** Row i of the 2-D view (dequantised). */
  row(i: number): Float32Array {
    if (!Number.isInteger(i) || i < 0 || i >= this.rows) {
      throw new RangeError(`${this.name}: row ${i} out of range [0, ${this.rows})`);
    }
    return this.readRows(i, i + 1);
  }

  /** Rows [start, end) of the 2-D view, dequantised. */
  readRows(start: number, end: number): Float32Array {
    const cols = this.cols;
    if (start < 0 || end > this.rows || start > end) throw new RangeError(`${this.name}: rows [${start}, ${end}) out of range [0, ${this.rows})`);
    const scale = this.scaleValues();
    // A block scale row is shared by blockRows rows: start the read on a block boundary.
    const br = this.scale?.blockRows ?? 1;
    const first = scale ? Math.floor(start / br) * br : start;
    const out = new Float32Array((end - first) * cols);
    native().dequantize(...this.nativeArgs(first, end), out);
    return first === start ? out : out.subarray((start - first) * cols);
  }

  /** A sub-tensor: one spec per leading dimension (index, [start, end) or null). */
  slice(...spec: SliceSpec[]): { shape: number[]; values: Float32Array } {
    const shape = this.shape;
    if (spec.length > shape.length) throw new RangeError(`${this.name}: ${spec.length} slice dims for a ${shape.length}-D tensor`);
    const ranges = shape.map((d, i) => {
      const s = spec[i] ?? null;
      if (s === null) return [0, d, false] as const;
      if (typeof s === "number") {
        const k = s < 0 ? d + s : s;
        if (!Number.isInteger(k) || k < 0 || k >= d) throw new RangeError(`${this.name}: index ${s} out of range for dim ${i} of size ${d}`);
        return [k, k + 1, true] as const;
      }
      const [a, b] = s;
      if (a < 0 || b > d || a > b) throw new RangeError(`${this.name}: range [${a}, ${b}) out of range for dim ${i} of size ${d}`);
      return [a, b, false] as const;
    });
    const r0 = shape.length ? ranges[0][0] : 0, r1 = shape.length ? ranges[0][1] : 1;
    const rowsData = this.readRows(r0, r1);
    const outShape = ranges.map(([a, b]) => b - a);
    const out = new Float32Array(outShape.reduce((a, b) => a * b, 1));
    // Strides of the source block (rows r0..r1) and copy of every innermost run.
    const srcShape = [r1 - r0, ...shape.slice(1)];
    const strides = srcShape.map((_, i) => srcShape.slice(i + 1).reduce((a, b) => a * b, 1));
    const nd = shape.length;
    if (nd === 0) return { shape: [], values: rowsData.slice() };
    const inner = outShape[nd - 1];
    const idx = new Array(nd - 1).fill(0);
    let o = 0;
    for (;;) {
      let off = 0;
      for (let d = 0; d < nd - 1; d++) off += (idx[d] + (d === 0 ? 0 : ranges[d][0])) * strides[d];
      off += ranges[nd - 1][0];
      out.set(rowsData.subarray(off, off + inner), o);
      o += inner;
      let d = nd - 2;
      while (d >= 0) {
        idx[d]++;
        if (idx[d] < outShape[d]) break;
        idx[d] = 0;
        d--;
      }
      if (d < 0) break;
    }
    const keep = outShape.filter((_, i) => !ranges[i][2]);
    return { shape: keep, values: out };
  }

  /** min, max, mean, std, rms, absmax, zero / NaN / Inf counts, and percentiles if asked. */
  stats(options: StatsOptions = {}): TensorStats {
    return computeStats(this, options);
  }

  histogram(options: HistogramOptions = {}): Histogram {
    return computeHistogram(this, options);
  }

  describe(): string {
    const scale = this.scale ? `, scale ${this.scale.granularity} (${this.scale.tensor.name})` : "";
    return `${this.name}: ${this.dtype} ${formatShape(this.shape)} ${formatBytes(this.nbytes)}${scale}`;
  }

  toString(): string {
    return `Tensor(${this.describe()})`;
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  /** Rich display in notebooks (Symbol.for("Jupyter.display") convention). */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const s = this.stats();
    const rows: [string, string][] = [
      ["dtype", this.dtype], ["shape", formatShape(this.shape)], ["bytes", formatBytes(this.nbytes)],
      ...(this.scale ? [["scale", `${this.scale.granularity} (${this.scale.tensor.name}, ${formatShape(this.scale.tensor.shape)})`] as [string, string]] : []),
      ["min", fmt(s.min)], ["max", fmt(s.max)], ["mean", fmt(s.mean)], ["std", fmt(s.std)], ["rms", fmt(s.rms)],
      ["absmax", fmt(s.absmax)], ["zeros", String(s.zeros)], ["NaN / Inf", `${s.nan} / ${s.posInf + s.negInf}`],
    ];
    const html = `<table><caption style="text-align:left"><b>${escapeHtml(this.name)}</b></caption>` +
      rows.map(([k, v]) => `<tr><th style="text-align:left">${k}</th><td style="text-align:left">${escapeHtml(v)}</td></tr>`).join("") + "</table>";
    return { "text/plain": `${this.toString()}\n` + rows.slice(3).map(([k, v]) => `  ${k}: ${v}`).join("\n"), "text/html": html };
  }

  /** True for FP8 storage (with or without a scale). */
  get isFp8(): boolean {
    return isFloat8(this.dtype);
  }
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(6) : String(x);
}
