/**
 * Loads the native addon (native/build/Release/nemotron_lab.node) and types its surface.
 * Every function takes raw bytes (TypedArray or ArrayBuffer views) plus validated shapes;
 * validation happens in TypeScript, at the boundary, before these are called.
 */
import * as fs from "fs";
import * as path from "path";

export type Bytes = ArrayBufferView | ArrayBuffer;

export interface NativeMoments {
  sum: number; sumsq: number; min: number; max: number; absmax: number; minAbsNonzero: number;
  finite: number; zeros: number; nan: number; posInf: number; negInf: number;
}

export interface NativeAddon {
  mapFile(path: string): ArrayBuffer;
  threads(): number;
  setThreads(n: number): number;
  copyBytes(src: Bytes, dst: Bytes): void;
  cudaInfo(): { compiled: boolean; devices: number; name: string; error: string };
  fp8Encode(src: Bytes, dtype: number, format: number, saturate: boolean, mul: number, out: Bytes): void;
  fp8Decode(codes: Bytes, format: number, mul: number, out: Float32Array): void;
  fp8EncodeReference(src: Float32Array, format: number, saturate: boolean, out: Uint8Array): void;
  fp8DecodeReference(codes: Uint8Array, format: number, out: Float32Array): void;
  dequantize(src: Bytes, dtype: number, rows: number, cols: number, scale: Float32Array | null,
    blockRows: number, blockCols: number, out: Float32Array): void;
  tensorMoments(src: Bytes, dtype: number, rows: number, cols: number, scale: Float32Array | null,
    blockRows: number, blockCols: number, reference: boolean): NativeMoments;
  tensorPercentiles(src: Bytes, dtype: number, rows: number, cols: number, scale: Float32Array | null,
    blockRows: number, blockCols: number, q: Float64Array, finite: number): Float64Array;
  tensorHistogram(src: Bytes, dtype: number, rows: number, cols: number, scale: Float32Array | null,
    blockRows: number, blockCols: number, bins: number, lo: number, hi: number, log: boolean):
    { edges: Float64Array; counts: Float64Array; below: number; above: number };
  /** Fused FP8 quantization (native/src/cpu/quantize.cc); mode 0 amax, 1 percentile, 2 search, 3 given scales. */
  quantizeFp8(src: Bytes, dtype: number, rows: number, cols: number, srcScale: Float32Array | null, srcBlockRows: number,
    srcBlockCols: number, format: number, blockRows: number, blockCols: number, mode: number, percentile: number,
    searchSteps: number, searchMinRatio: number, scales: Float32Array, codes: Uint8Array, metrics: boolean, reference: boolean): {
    nonfinite: number; count: number; sig: number; noise: number; dot: number; qq: number; sumAbs: number; maxAbs: number;
    zeros: number; clipped: number; flushedZero: number; subnormal: number;
  };
  // Model kernels register more functions; see src/backend/ops.ts.
  [name: string]: unknown;
}

/** The package root: the nearest folder above this file with our package.json. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, "utf8")).name === "nemotron-lab") return dir;
      } catch { /* keep looking */ }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`nemotron-lab: cannot find the package root above ${__dirname}`);
    dir = up;
  }
}

let cached: NativeAddon | undefined;

export function native(): NativeAddon {
  if (cached) return cached;
  const file = path.join(packageRoot(), "native", "build", "Release", "nemotron_lab.node");
  if (!fs.existsSync(file)) {
    throw new Error(`nemotron-lab: the native addon is not built (${file} is missing); run \`npm install\` ` +
      "(or `npm run install`) in the package folder; it needs python3, make and a C++ compiler.");
  }
  cached = require(file) as NativeAddon;
  return cached;
}
