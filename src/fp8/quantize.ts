/**
 * FP8 quantization of one tensor with an amax scale per tensor, per output channel (row)
 * or per 2-D block: scale = amax / FP8_MAX, code = fp8(x / scale), value = code * scale.
 */
import { Tensor } from "../tensor/tensor";
import { Fp8Format, FP8_MAX, decodeFp8, encodeFp8 } from "./codec";

export type Granularity = "tensor" | "channel" | "block";

export interface QuantizeOptions {
  format?: Fp8Format;
  granularity?: Granularity;
  /** Block size for "block" granularity: [rows, cols] (default [128, 128]). */
  blockSize?: [number, number];
}

export interface QuantizedTensor {
  format: Fp8Format;
  granularity: Granularity;
  rows: number;
  cols: number;
  blockRows: number;
  blockCols: number;
  codes: Uint8Array;
  /** One scale per block, row-major over the block grid. */
  scales: Float32Array;
  /** codes * scales, as float32. */
  dequantized: Float32Array;
}

export function quantizeTensor(t: Tensor, options: QuantizeOptions = {}): QuantizedTensor {
  return quantizeValues(t.values(), t.rows, t.cols, options);
}

export function quantizeValues(values: Float32Array, rows: number, cols: number, options: QuantizeOptions = {}): QuantizedTensor {
  const format = options.format ?? "e4m3";
  const granularity = options.granularity ?? "tensor";
  const [br, bc] = granularity === "tensor" ? [rows, cols] : granularity === "channel" ? [1, cols] : options.blockSize ?? [128, 128];
  if (!(br > 0 && bc > 0)) throw new RangeError(`block size must be positive, got [${br}, ${bc}]`);
  const gr = Math.ceil(rows / br), gc = Math.ceil(cols / bc);
  const scales = new Float32Array(gr * gc);
  const codes = new Uint8Array(rows * cols);
  const dequantized = new Float32Array(rows * cols);
  const max = FP8_MAX[format];
  const block = new Float32Array(br * bc);
  for (let bi = 0; bi < gr; bi++) {
    for (let bj = 0; bj < gc; bj++) {
      const r0 = bi * br, r1 = Math.min(rows, r0 + br), c0 = bj * bc, c1 = Math.min(cols, c0 + bc);
      let amax = 0;
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) amax = Math.max(amax, Math.abs(values[r * cols + c]));
      const scale = amax > 0 && Number.isFinite(amax) ? amax / max : 1;
      scales[bi * gc + bj] = scale;
      const w = c1 - c0;
      let k = 0;
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) block[k++] = values[r * cols + c] / scale;
      const bcodes = encodeFp8(block.subarray(0, k), format);
      const bvals = decodeFp8(bcodes, format, scale);
      for (let r = r0, i = 0; r < r1; r++, i += w) {
        codes.set(bcodes.subarray(i, i + w), r * cols + c0);
        dequantized.set(bvals.subarray(i, i + w), r * cols + c0);
      }
    }
  }
  return { format, granularity, rows, cols, blockRows: br, blockCols: bc, codes, scales, dequantized };
}
