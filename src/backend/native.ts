/**
 * Loads the native addon (a source build or the packed prebuild, see addonPath) and types its surface.
 * Every function takes raw bytes (TypedArray or ArrayBuffer views) plus validated shapes;
 * validation happens in TypeScript, at the boundary, before these are called.
 */
import * as fs from "fs";
import * as path from "path";
import { packageRoot } from "../util/package-root";
import { UserError } from "../util/errors";

export { packageRoot };

export type Bytes = ArrayBufferView | ArrayBuffer;

/**
 * A stored matrix as every addon function that reads tensors takes it (seven arguments,
 * native/src/stored_matrix.h and napi/tensor_arg.h): element (r, c) = value(src[r * cols + c])
 * * scale[r / blockRows, c / blockCols]. Tensor.nativeArgs() produces it.
 */
export type StoredMatrixArgs = readonly [src: Bytes, dtype: number, rows: number, cols: number, scale: Float32Array | null,
  blockRows: number, blockCols: number];

export interface NativeMoments {
  sum: number; sumsq: number; min: number; max: number; absmax: number; minAbsNonzero: number;
  finite: number; zeros: number; nan: number; posInf: number; negInf: number;
}

/** The backends of native/src/backend.h: fast CPU kernels, plain reference kernels, CUDA. */
export type BackendName = "cpu" | "reference" | "cuda";
/** An op's backend argument: false = "cpu", true = "reference", or a name. */
export type OpBackend = boolean | BackendName;

/** An opaque native object (model or state), freed when collected. */
export type NativeHandle = { readonly __native: unique symbol };

export interface NativeModelConfig {
  H: number; vocab: number; nh: number; P: number; G: number; N: number; K: number; chunk: number;
  nq: number; nkv: number; hd: number; eps: number; dtLo: number; dtHi: number; dtClampMin: number;
  E: number; topk: number; nGroup: number; topkGroup: number; normTopk: boolean; routedScale: number;
  kinds: number[];
  /** Storage precision of the SSM state / KV cache (native StateDtype: 0 f32, 1 bf16, 2 f16, 3 fp8 e4m3); default 0. */
  ssmDtype?: number; kvDtype?: number;
}

export interface NativeAddon {
  mapFile(path: string): { handle: object; size: number };
  mapView(handle: object, offset: number, length: number): ArrayBuffer;
  mapReadAhead(handle: object): number;
  threads(): number;
  /** The SIMD paths in use: "avx512vbmi", "avx2" or "plain" (NEMOTRON_LAB_SIMD caps it). */
  simdLevel(): "avx512vbmi" | "avx2" | "plain";
  setThreads(n: number): number;
  copyBytes(src: Bytes, dst: Bytes): void;
  /** The wrapping sum of src as little-endian 64-bit words: threaded (the read-bandwidth probe), or the plain loop. */
  readSum(src: Bytes, reference?: boolean): bigint;
  cudaInfo(): { compiled: boolean; devices: number; name: string; error: string };
  fp8Encode(src: Bytes, dtype: number, format: number, saturate: boolean, mul: number, out: Bytes): void;
  fp8Decode(codes: Bytes, format: number, mul: number, out: Float32Array): void;
  fp8EncodeReference(src: Float32Array, format: number, saturate: boolean, out: Uint8Array): void;
  fp8DecodeReference(codes: Uint8Array, format: number, out: Float32Array): void;
  dequantize(...a: [...m: StoredMatrixArgs, out: Float32Array]): void;
  tensorMoments(...a: [...m: StoredMatrixArgs, reference: boolean]): NativeMoments;
  /** Moments and the percentiles q together (one counting pass for 8/16-bit dtypes). */
  tensorStats(...a: [...m: StoredMatrixArgs, q: Float64Array]): NativeMoments & { percentiles: Float64Array };
  /** NaN lo / hi: the data's own range. */
  tensorHistogram(...a: [...m: StoredMatrixArgs, bins: number, lo: number, hi: number, log: boolean]):
    { edges: Float64Array; counts: Float64Array; below: number; above: number };
  /** Fused FP8 quantization (native/src/cpu/quantize.cc); mode 0 amax, 1 percentile, 2 search, 3 given scales. */
  quantizeFp8(...a: [...m: StoredMatrixArgs, format: number, blockRows: number, blockCols: number, mode: number, percentile: number,
    searchSteps: number, searchMinRatio: number, scales: Float32Array, codes: Uint8Array, metrics: boolean, reference: boolean]): {
    nonfinite: number; count: number; sig: number; noise: number; dot: number; qq: number; sumAbs: number; maxAbs: number;
    zeros: number; clipped: number; flushedZero: number; subnormal: number;
  };
  // Backend ops (native/src/backend.h). The last argument picks the backend: false = "cpu",
  // true = "reference", or a name (src/backend/select.ts); test/kernels.test.ts compares them.
  opLinear(...a: [x: Float32Array, T: number, ...w: StoredMatrixArgs, bias: Float32Array | null, y: Float32Array, backend: OpBackend]): void;
  opEmbedding(...a: [...table: StoredMatrixArgs, ids: Int32Array, out: Float32Array, backend: OpBackend]): void;
  opRmsnorm(x: Float32Array, T: number, n: number, w: Float32Array, eps: number, y: Float32Array, backend: OpBackend): void;
  opGatedRmsnorm(y: Float32Array, z: Float32Array, ldz: number, T: number, n: number, group: number, w: Float32Array,
    eps: number, out: Float32Array, backend: OpBackend): void;
  opConv1dSilu(input: Float32Array, T: number, C: number, K: number, w: Float32Array, b: Float32Array | null,
    state: Float32Array, out: Float32Array, backend: OpBackend): void;
  opDtSoftplus(raw: Float32Array, T: number, nh: number, bias: Float32Array, lo: number, hi: number, dt: Float32Array,
    backend: OpBackend): void;
  opSsm(x: Float32Array, B: Float32Array, C: Float32Array, dt: Float32Array, A: Float32Array, D: Float32Array,
    dims: Float64Array, state: Float32Array, y: Float32Array, mode: "scan" | "step" | "reference", backend?: OpBackend): void;
  opAttention(q: Float32Array, k: Float32Array, v: Float32Array, dims: Float64Array, scale: number, out: Float32Array,
    backend: OpBackend): void;
  opRelu2(x: Float32Array, backend: OpBackend): void;
  opAdd(h: Float32Array, y: Float32Array, backend: OpBackend): void;
  /** max |x| over the finite values (calibration of a static input scale). */
  opAmax(x: Float32Array, backend: OpBackend): number;
  /** y (T, n) = FP8 round trip of x / s, times s; format 0 e4m3, 1 e5m2; s static or per row (dynamic). */
  opFakeQuantFp8(x: Float32Array, T: number, n: number, format: number, dynamic: boolean, scale: number, y: Float32Array,
    backend: OpBackend): void;
  /** x = x rounded to a 16-bit storage dtype (dtype code of BF16 or F16) and read back. */
  opRoundTo(x: Float32Array, dtype: number, backend: OpBackend): void;
  /** MoE router: settings [E, k, n_group, topk_group, norm_topk (0/1), routed_scaling_factor]; writes (T, k) experts and weights. */
  opMoeRoute(logits: Float32Array, T: number, settings: Float64Array, correction: Float32Array | null, experts: Int32Array,
    weights: Float32Array, backend: OpBackend): void;
  opGatherRows(src: Float32Array, cols: number, rows: Int32Array, dst: Float32Array, backend: OpBackend): void;
  /** dst row rows[j] += weights[j] * src row j (rows distinct). */
  opScatterAddRows(src: Float32Array, cols: number, rows: Int32Array, weights: Float32Array, dst: Float32Array,
    backend: OpBackend): void;
  argmax(x: Float32Array): number;
  topK(x: Float32Array, k: number, values: Float32Array, indices: Int32Array): void;
  softmax(x: Float32Array, temperature: number): number;
  // The native model object (native/src/model/nemotron_h.h); used by src/model/nemotron-h.ts.
  modelCreate(config: NativeModelConfig, backend: BackendName): NativeHandle;
  modelBind(...a: [model: NativeHandle, layer: number, role: number, expert: number, ...w: StoredMatrixArgs]): void;
  modelCheck(model: NativeHandle): void;
  modelSetInputQuant(model: NativeHandle, layer: number, role: number, mode: number, format: number, scale: number): void;
  modelObserveInput(model: NativeHandle, layer: number, role: number, on: boolean): number;
  stateCreate(model: NativeHandle, maxTokens: number): NativeHandle;
  stateClone(state: NativeHandle): NativeHandle;
  stateReset(model: NativeHandle, state: NativeHandle): void;
  stateLength(state: NativeHandle): number;
  /** hooks: [layer, point, record buffer | null, patch function?] (model/nemotron_h.h's Hook). */
  modelForward(model: NativeHandle, state: NativeHandle, ids: Int32Array, lastOnly: boolean, out: Float32Array,
    hooks: NativeHook[]): void;
  /** The native enums by name → code (Role, Kind, HookPoint, DType) and the read-only hook points. */
  modelEnums(): { role: Record<string, number>; kind: Record<string, number>; hookPoint: Record<string, number>;
    dtype: Record<string, number>; readOnlyHooks: string[] };
}

/** One hook of a native forward: where, the buffer it records into, and a patch called with a copy of the activation. */
export type NativeHook = [layer: number, point: number, record: Float32Array | null, patch?: (a: Float32Array) => Float32Array | void];

let cached: NativeAddon | undefined;

/**
 * The addon file: a source build (native/build/Release) when there is one, else the prebuilt
 * binary for this platform packed in native/prebuilds/ (node-gyp-build matches platform, arch and
 * N-API tags). NEMOTRON_LAB_ADDON names a file explicitly.
 */
export function addonPath(): string {
  const explicit = process.env.NEMOTRON_LAB_ADDON;
  if (explicit) return path.resolve(explicit);
  const dir = path.join(packageRoot(), "native");
  try {
    return (require("node-gyp-build") as { resolve(dir: string): string }).resolve(dir);
  } catch (e) {
    throw new UserError(`nemotron-lab: no native addon for ${process.platform}-${process.arch} (neither ${path.join(dir, "build", "Release")} ` +
      `nor a matching prebuild in ${path.join(dir, "prebuilds")}); run \`npm install\` (or \`node tools/native-build.js\`) ` +
      `in ${packageRoot()} to build it from source; it needs python3, make and a C++17 compiler. (${(e as Error).message.trim().split("\n")[0]})`);
  }
}

export function native(): NativeAddon {
  if (cached) return cached;
  const file = addonPath();
  if (!fs.existsSync(file)) throw new UserError(`nemotron-lab: the native addon ${file} does not exist`);
  cached = require(file) as NativeAddon;
  return cached;
}
