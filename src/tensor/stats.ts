/**
 * Statistics and histograms of a tensor, computed natively over its stored dtype (no
 * float32 copy of the tensor). Non-finite values are counted apart and left out of the
 * moments, percentiles and histograms.
 */
import { native } from "../backend/native";
import type { Tensor } from "./tensor";

export interface StatsOptions {
  /** Percentiles to compute, in [0, 100] (exact, numpy's linear interpolation). */
  percentiles?: number[];
  /** Use the single-threaded reference (tests). */
  reference?: boolean;
}

export interface TensorStats {
  count: number;
  finite: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  rms: number;
  absmax: number;
  /** Smallest non-zero |x| (useful for FP8 underflow questions). */
  minAbsNonzero: number;
  zeros: number;
  nan: number;
  posInf: number;
  negInf: number;
  percentiles?: Record<string, number>;
}

export interface HistogramOptions {
  bins?: number;
  /** Range of the bins; defaults to [min, max] (log: [smallest non-zero |x|, absmax]). */
  range?: [number, number];
  /** Logarithmic bins over |x|. */
  log?: boolean;
}

export interface Histogram {
  edges: Float64Array;
  counts: Float64Array;
  /** Finite values below the first edge / above the last one (log: includes zeros in below). */
  below: number;
  above: number;
  log: boolean;
}

export function computeStats(t: Tensor, options: StatsOptions = {}): TensorStats {
  const args = t.nativeArgs();
  const q = options.percentiles ?? [];
  for (const p of q) {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`${t.name}: percentile ${p} is outside [0, 100]`);
  }
  // Percentiles come with the moments (one counting pass for 8/16-bit dtypes); the reference
  // covers the moments only.
  const withQ = q.length ? native().tensorStats(...args, Float64Array.from(q)) : undefined;
  const m = options.reference ? native().tensorMoments(...args, true) : withQ ?? native().tensorMoments(...args, false);
  const n = m.finite;
  const mean = n ? m.sum / n : NaN;
  const meanSq = n ? m.sumsq / n : NaN;
  const stats: TensorStats = {
    count: t.numel, finite: n,
    min: n ? m.min : NaN, max: n ? m.max : NaN, mean,
    std: n ? Math.sqrt(Math.max(0, meanSq - mean * mean)) : NaN,
    rms: Math.sqrt(meanSq), absmax: n ? m.absmax : NaN,
    minAbsNonzero: Number.isFinite(m.minAbsNonzero) ? m.minAbsNonzero : NaN,
    zeros: m.zeros, nan: m.nan, posInf: m.posInf, negInf: m.negInf,
  };
  if (withQ) stats.percentiles = Object.fromEntries(q.map((p, i) => [String(p), withQ.percentiles[i]]));
  return stats;
}

export function computeHistogram(t: Tensor, options: HistogramOptions = {}): Histogram {
  const bins = options.bins ?? 100;
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`${t.name}: histogram bins must be a positive integer, got ${bins}`);
  const log = options.log ?? false;
  const range = options.range ?? [NaN, NaN];  // the native side finds the data's range in the same pass
  if (log && options.range && !(range[0] > 0)) throw new RangeError(`${t.name}: log histogram needs a range starting above 0, got [${range}]`);
  const h = native().tensorHistogram(...t.nativeArgs(), bins, range[0], range[1], log);
  return { ...h, log };
}
