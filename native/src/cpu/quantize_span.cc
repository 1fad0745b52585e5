// The FP8 quantizer's portable span kernels (see quantize_internal.h): the saturating encoder
// over a span (vectorised clones per ISA), amax, the error sums, and the float32 percentile.
#include "cpu/quantize_internal.h"

namespace nl {
namespace quant {

NL_SIMD_CLONES void encode_span_e4m3(const float* x, size_t n, float s, uint8_t* out) {
  for (size_t i = 0; i < n; i++) out[i] = uint8_t(e4m3_sat(x[i] / s));
}
NL_SIMD_CLONES void encode_span_e5m2(const float* x, size_t n, float s, uint8_t* out) {
  for (size_t i = 0; i < n; i++) out[i] = uint8_t(e5m2_sat(x[i] / s));
}
void encode_span(Fp8Format f, const float* x, size_t n, float s, uint8_t* out) {
  if (f == Fp8Format::E4M3) encode_span_e4m3(x, n, s, out);
  else encode_span_e5m2(x, n, s, out);
}

// max |x| over finite values, and the count of non-finite ones; lane-parallel to vectorise.
NL_SIMD_CLONES float span_amax(const float* x, size_t n, uint32_t* nonfinite) {
  constexpr int L = 16;
  float am[L] = {};
  uint32_t nf[L] = {};
  size_t i = 0;
  for (; i + L <= n; i += L) {
    for (int j = 0; j < L; j++) {
      float a = std::fabs(x[i + j]);
      bool fin = a <= FLT_MAX;
      am[j] = std::max(am[j], fin ? a : 0.0f);
      nf[j] += !fin;
    }
  }
  for (; i < n; i++) {
    float a = std::fabs(x[i]);
    bool fin = a <= FLT_MAX;
    am[0] = std::max(am[0], fin ? a : 0.0f);
    nf[0] += !fin;
  }
  float r = 0;
  for (int j = 0; j < L; j++) { r = std::max(r, am[j]); *nonfinite += nf[j]; }
  return r;
}

void span_metrics(const float* x, const uint8_t* c, size_t n, float s, Fp8Format f, QuantMetrics& a) {
  const float* table = fp8_decode_table(f);
  float thr = clip_threshold(f);
  for (size_t i = 0; i < n; i++) {
    float xi = x[i];
    if (!(std::fabs(xi) <= FLT_MAX)) continue;
    float q = table[c[i]] * s;
    double xd = xi, qd = q, d = qd - xd, ad = std::fabs(d);
    a.sig += xd * xd; a.noise += d * d; a.dot += xd * qd; a.qq += qd * qd;
    a.sum_abs += ad; a.max_abs = std::max(a.max_abs, ad);
    a.count++;
    a.zeros += xi == 0.0f;
    a.clipped += std::fabs(xi / s) > thr;
    uint8_t mag = c[i] & 0x7fu;
    if (xi != 0.0f && mag == 0) a.flushed_zero++;
    else if (is_subnormal_code(mag, f)) a.subnormal++;
  }
}

void merge(QuantMetrics& a, const QuantMetrics& b) {
  a.sig += b.sig; a.noise += b.noise; a.dot += b.dot; a.qq += b.qq; a.sum_abs += b.sum_abs;
  a.max_abs = std::max(a.max_abs, b.max_abs);
  a.count += b.count; a.zeros += b.zeros; a.clipped += b.clipped; a.flushed_zero += b.flushed_zero; a.subnormal += b.subnormal;
}

// Linear-interpolated q-th percentile of v (torch.quantile's rule and rounding, in float32).
float percentile_of(std::vector<float>& v, double q, bool sort_all) {
  if (v.empty()) return 0.0f;
  float qf = float(q / 100.0);
  float pos = qf * float(v.size() - 1);
  size_t lo = size_t(std::floor(pos)), hi = std::min(v.size() - 1, size_t(std::ceil(pos)));
  float w = pos - float(lo);
  float a, b;
  if (sort_all) {
    std::sort(v.begin(), v.end());
    a = v[lo]; b = v[hi];
  } else {
    std::nth_element(v.begin(), v.begin() + lo, v.end());
    a = v[lo];
    b = hi == lo ? a : *std::min_element(v.begin() + lo + 1, v.end());
  }
  float diff = b - a;  // torch's lerp, fused multiply-add as its CPU kernel does
  return w < 0.5f ? std::fma(w, diff, a) : std::fma(-diff, 1.0f - w, b);
}


}  // namespace quant
}  // namespace nl
