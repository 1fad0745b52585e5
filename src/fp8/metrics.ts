/**
 * Error of an approximation against the original values: SQNR, relative L2, max/mean
 * absolute error, cosine; for FP8 quantization also the fractions clipped at the format's
 * max and flushed to zero or to a subnormal code. `errorMetrics` is the plain TypeScript
 * computation over two arrays; `metricsFromSums` turns the sums the native quantizer
 * accumulates in its single pass into the same numbers.
 */
import { ArgumentError } from "../util/errors";
export interface ErrorMetrics {
  sqnrDb: number;
  relL2: number;
  maxAbs: number;
  meanAbs: number;
  cosine: number;
}

/** ErrorMetrics plus what FP8 rounding did to the values. */
export interface QuantErrorMetrics extends ErrorMetrics {
  /** Finite values measured. */
  count: number;
  /** Fraction whose |x / scale| exceeded the format max (saturated). */
  fracClipped: number;
  /** Fraction of non-zero values that became zero. */
  fracFlushedZero: number;
  /** Fraction of values that became subnormal codes. */
  fracSubnormal: number;
}

/** The sums the native quantizer returns (see native/src/cpu/quantize.h). */
export interface QuantSums {
  count: number; sig: number; noise: number; dot: number; qq: number; sumAbs: number; maxAbs: number;
  zeros: number; clipped: number; flushedZero: number; subnormal: number;
}

export function errorMetrics(original: Float32Array, approx: Float32Array): ErrorMetrics {
  if (original.length !== approx.length) throw new ArgumentError(`errorMetrics: lengths differ (${original.length} vs ${approx.length})`);
  let sig = 0, noise = 0, maxAbs = 0, sumAbs = 0, dot = 0, aa = 0;
  for (let i = 0; i < original.length; i++) {
    const x = original[i], y = approx[i], d = y - x;
    sig += x * x; noise += d * d; dot += x * y; aa += y * y;
    const ad = Math.abs(d);
    sumAbs += ad;
    if (ad > maxAbs) maxAbs = ad;
  }
  return fromSums(sig, noise, dot, aa, sumAbs, maxAbs, original.length);
}

export function metricsFromSums(s: QuantSums): QuantErrorMetrics {
  const nonzero = s.count - s.zeros;
  return {
    ...fromSums(s.sig, s.noise, s.dot, s.qq, s.sumAbs, s.maxAbs, s.count),
    count: s.count,
    fracClipped: s.count ? s.clipped / s.count : 0,
    fracFlushedZero: nonzero > 0 ? s.flushedZero / nonzero : 0,
    fracSubnormal: s.count ? s.subnormal / s.count : 0,
  };
}

function fromSums(sig: number, noise: number, dot: number, aa: number, sumAbs: number, maxAbs: number, n: number): ErrorMetrics {
  return {
    sqnrDb: noise === 0 ? Infinity : 10 * Math.log10(sig / noise),
    relL2: sig === 0 ? (noise === 0 ? 0 : Infinity) : Math.sqrt(noise / sig),
    maxAbs,
    meanAbs: n ? sumAbs / n : 0,
    cosine: sig === 0 || aa === 0 ? NaN : dot / Math.sqrt(sig * aa),
  };
}
