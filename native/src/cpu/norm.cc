// RMSNorm, the residual add fused with the next RMSNorm, and the Mamba-2 gated group RMSNorm
// (gate first: g = y · silu(z), then RMS over contiguous groups of `group` channels, times the
// weight). Fast versions split rows
// across threads and keep 16 fp32 lanes of sums; the references are the formulas in fp64.
#include <algorithm>
#include <cmath>

#include "cpu/kernels.h"
#include "simd.h"
#include "thread_pool.h"

namespace nl {

using namespace simd;

void rmsnorm_reference(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y) {
  for (int64_t t = 0; t < T; t++) {
    const float* xr = x + t * n;
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += double(xr[i]) * xr[i];
    double inv = 1.0 / std::sqrt(ss / double(n) + eps);
    for (int64_t i = 0; i < n; i++) y[t * n + i] = float(xr[i] * inv * w[i]);
  }
}

void add_rmsnorm_reference(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x) {
  add_reference(h, y, T * n);
  rmsnorm_reference(h, T, n, w, eps, x);
}

void gated_rmsnorm_reference(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group,
                             const float* w, float eps, float* out) {
  NL_CHECK(group > 0 && n % group == 0, "gated_rmsnorm: group size must divide the width");
  for (int64_t t = 0; t < T; t++) {
    for (int64_t g0 = 0; g0 < n; g0 += group) {
      double ss = 0;
      for (int64_t i = g0; i < g0 + group; i++) {
        double zi = z[t * ldz + i];
        double g = y[t * n + i] * (zi / (1.0 + std::exp(-zi)));
        ss += g * g;
      }
      double inv = 1.0 / std::sqrt(ss / double(group) + eps);
      for (int64_t i = g0; i < g0 + group; i++) {
        double zi = z[t * ldz + i];
        double g = y[t * n + i] * (zi / (1.0 + std::exp(-zi)));
        out[t * n + i] = float(g * inv * w[i]);
      }
    }
  }
}

namespace {

NL_KERNEL float sum_squares(const float* x, int64_t n) {
  v16f acc = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) { v16f v = load(x + i); acc += v * v; }
  float s = hsum(acc);
  for (; i < n; i++) s += x[i] * x[i];
  return s;
}

NL_KERNEL void scale_mul(const float* x, float s, const float* w, int64_t n, float* y) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] * s * w[i];
}

NL_KERNEL void gate(const float* y, const float* z, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) store(out + i, load(y + i) * silu16(load(z + i)));
  for (; i < n; i++) out[i] = y[i] * (z[i] / (1.0f + std::exp(-z[i])));
}

}  // namespace

void rmsnorm_fast(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y) {
  parallel_for(size_t(T), size_t(std::max<int64_t>(1, 16384 / n)), [&](size_t b, size_t e) {
    for (size_t t = b; t < e; t++) {
      float inv = 1.0f / std::sqrt(sum_squares(x + t * n, n) / float(n) + eps);
      scale_mul(x + t * n, inv, w, n, y + t * n);
    }
  });
}

// Each row is added and normalised by one task while it is in cache (add_fast's sums, then
// rmsnorm_fast's: the same values).
void add_rmsnorm_fast(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x) {
  parallel_for(size_t(T), size_t(std::max<int64_t>(1, 16384 / n)), [&](size_t b, size_t e) {
    for (size_t t = b; t < e; t++) {
      float* hr = h + t * n;
      const float* yr = y + t * n;
      for (int64_t i = 0; i < n; i++) hr[i] = hr[i] + yr[i];
      float inv = 1.0f / std::sqrt(sum_squares(hr, n) / float(n) + eps);
      scale_mul(hr, inv, w, n, x + t * n);
    }
  });
}

void gated_rmsnorm_fast(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group,
                        const float* w, float eps, float* out) {
  NL_CHECK(group > 0 && n % group == 0, "gated_rmsnorm: group size must divide the width");
  const int64_t G = n / group;
  // ~16K channels per task: a decode token's groups run inline (no thread wake-up).
  parallel_for(size_t(T * G), size_t(std::max<int64_t>(1, 16384 / group)), [&](size_t b, size_t e) {
    for (size_t i = b; i < e; i++) {
      int64_t t = int64_t(i) / G, g0 = (int64_t(i) % G) * group;
      float* o = out + t * n + g0;
      gate(y + t * n + g0, z + t * ldz + g0, group, o);
      float inv = 1.0f / std::sqrt(sum_squares(o, group) / float(group) + eps);
      scale_mul(o, inv, w + g0, group, o);
    }
  });
}

}  // namespace nl
