/**
 * FP8 encode/decode, bit-exact per the OCP 8-bit floating point spec: E4M3 ("e4m3fn",
 * bias 7, max 448, no infinity) and E5M2 (bias 15, max 57344, IEEE-like inf/NaN). Round to
 * nearest, ties to even; subnormals; signed zero; NaN stays NaN. Native and multi-threaded.
 */
import { native } from "../backend/native";
import { DType, DTYPE_SIZE, dtypeCode, isDType } from "../tensor/dtype";
import { ArgumentError } from "../util/errors";

export type Fp8Format = "e4m3" | "e5m2";

export interface EncodeOptions {
  /**
   * true (default, like NVIDIA's satfinite): finite overflow and ±inf clamp to ±max.
   * false (like PyTorch up to 2.11): overflow gives NaN for E4M3 and ±inf for E5M2.
   */
  saturate?: boolean;
  /** Multiply by this before encoding (1 / scale). */
  multiplier?: number;
  /** Write the codes here (reused across calls, it saves the page faults of a fresh buffer). */
  out?: Uint8Array;
}

export const FP8_MAX: Readonly<Record<Fp8Format, number>> = { e4m3: 448, e5m2: 57344 };

export function formatCode(format: Fp8Format): number {
  if (format === "e4m3") return 0;
  if (format === "e5m2") return 1;
  throw new ArgumentError(`FP8 format must be "e4m3" or "e5m2", got ${JSON.stringify(format)}`);
}

/** The FP8 format of a safetensors dtype. */
export function fp8FormatOf(dtype: DType): Fp8Format {
  if (dtype === "F8_E4M3") return "e4m3";
  if (dtype === "F8_E5M2") return "e5m2";
  throw new ArgumentError(`${dtype} is not an FP8 dtype`);
}

/** Encodes float32 values to FP8 codes. */
export function encodeFp8(values: Float32Array, format: Fp8Format, options: EncodeOptions = {}): Uint8Array {
  return encodeFp8From(values, "F32", format, options);
}

/**
 * Encodes from raw BF16 / F16 / F32 (or any dtype) bytes without a float32 copy:
 * `values` holds the elements of `dtype` (e.g. a Uint16Array of BF16 bits).
 */
export function encodeFp8From(values: ArrayBufferView, dtype: DType, format: Fp8Format, options: EncodeOptions = {}): Uint8Array {
  const code = formatCode(format);
  if (!isDType(dtype)) throw new ArgumentError(`unknown dtype ${JSON.stringify(dtype)}`);
  if (values.byteLength % DTYPE_SIZE[dtype]) throw new ArgumentError(`${values.byteLength} bytes is not a whole number of ${dtype} values`);
  const n = values.byteLength / DTYPE_SIZE[dtype];
  const out = options.out ?? new Uint8Array(n);
  if (out.length < n) throw new ArgumentError(`encodeFp8: 'out' holds ${out.length} codes, need ${n}`);
  native().fp8Encode(values, dtypeCode(dtype), code, options.saturate ?? true, options.multiplier ?? 1, out);
  return out.length === n ? out : out.subarray(0, n);
}

/** Decodes FP8 codes to float32 (times an optional scale), into `out` when given. */
export function decodeFp8(codes: Uint8Array, format: Fp8Format, scale = 1, out?: Float32Array): Float32Array {
  out ??= new Float32Array(codes.length);
  if (out.length < codes.length) throw new ArgumentError(`decodeFp8: 'out' holds ${out.length} values, need ${codes.length}`);
  native().fp8Decode(codes, formatCode(format), scale, out);
  return out;
}

/** Reference encoder from the definition (nearest value of the decode table); slow, for tests. */
export function encodeFp8Reference(values: Float32Array, format: Fp8Format, options: { saturate?: boolean } = {}): Uint8Array {
  const out = new Uint8Array(values.length);
  native().fp8EncodeReference(values, formatCode(format), options.saturate ?? true, out);
  return out;
}

/** Reference decoder from the bit fields; for tests. */
export function decodeFp8Reference(codes: Uint8Array, format: Fp8Format): Float32Array {
  const out = new Float32Array(codes.length);
  native().fp8DecodeReference(codes, formatCode(format), out);
  return out;
}
