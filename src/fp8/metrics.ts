/** Error of an approximation against the original values: SQNR, relative L2, max/mean abs, cosine. */
export interface ErrorMetrics {
  sqnrDb: number;
  relL2: number;
  maxAbs: number;
  meanAbs: number;
  cosine: number;
}

export function errorMetrics(original: Float32Array, approx: Float32Array): ErrorMetrics {
  if (original.length !== approx.length) throw new RangeError(`errorMetrics: lengths differ (${original.length} vs ${approx.length})`);
  let sig = 0, noise = 0, maxAbs = 0, sumAbs = 0, dot = 0, aa = 0;
  for (let i = 0; i < original.length; i++) {
    const x = original[i], y = approx[i], d = y - x;
    sig += x * x; noise += d * d; dot += x * y; aa += y * y;
    const ad = Math.abs(d);
    sumAbs += ad;
    if (ad > maxAbs) maxAbs = ad;
  }
  return {
    sqnrDb: noise === 0 ? Infinity : 10 * Math.log10(sig / noise),
    relL2: sig === 0 ? (noise === 0 ? 0 : Infinity) : Math.sqrt(noise / sig),
    maxAbs,
    meanAbs: original.length ? sumAbs / original.length : 0,
    cosine: sig === 0 || aa === 0 ? NaN : dot / Math.sqrt(sig * aa),
  };
}
