// Activation fake quantization (backend.h): amax for calibration, and x -> FP8 -> x with a
// static or per-token scale, the arithmetic of an FP8 W8A8 linear's input. The reference is
// the definition, one value at a time; the fast version splits rows (and the amax reduction)
// over the thread pool with the same per-element arithmetic, so the two agree bit for bit.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "fp8.h"
#include "thread_pool.h"

namespace nl {

namespace {

float finite_amax(const float* x, int64_t n) {
  float a = 0.0f;
  for (int64_t i = 0; i < n; i++)
    if (std::isfinite(x[i])) a = std::max(a, std::fabs(x[i]));
  return a;
}

// A dynamic row's scale: its own max|x| (NaN skipped) over the format's max; 1 when that is 0 or infinite.
float row_scale(const float* x, int64_t n, Fp8Format f) {
  float a = 0.0f;
  for (int64_t c = 0; c < n; c++) a = std::max(a, std::fabs(x[c]));  // std::max(a, NaN) keeps a
  return a > 0.0f && std::isfinite(a) ? a / fp8_max(f) : 1.0f;
}

void fake_quant_row(const float* x, int64_t n, Fp8Format f, float s, const float* table, float* y) {
  for (int64_t c = 0; c < n; c++) y[c] = table[f32_to_fp8(x[c] / s, f, true)] * s;
}

}  // namespace

float amax_reference(const float* x, int64_t n) { return finite_amax(x, n); }

float amax_fast(const float* x, int64_t n) {
  constexpr size_t kGrain = 1 << 16;
  const size_t chunks = (size_t(n) + kGrain - 1) / kGrain;
  std::vector<float> part(std::max<size_t>(chunks, 1), 0.0f);
  parallel_for(size_t(n), kGrain, [&](size_t b, size_t e) { part[b / kGrain] = finite_amax(x + b, int64_t(e - b)); });
  return *std::max_element(part.begin(), part.end());
}

void fake_quant_fp8_reference(const float* x, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale, float* y) {
  const float* table = fp8_decode_table(f);
  for (int64_t t = 0; t < T; t++) {
    const float s = dynamic ? row_scale(x + t * n, n, f) : scale;
    for (int64_t c = 0; c < n; c++) y[t * n + c] = table[f32_to_fp8(x[t * n + c] / s, f, true)] * s;
  }
}

void fake_quant_fp8_fast(const float* x, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale, float* y) {
  const float* table = fp8_decode_table(f);
  const size_t grain = size_t(std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(n, 1)));
  parallel_for(size_t(T), grain, [&](size_t b, size_t e) {
    for (size_t t = b; t < e; t++) {
      const float* xr = x + int64_t(t) * n;
      fake_quant_row(xr, n, f, dynamic ? row_scale(xr, n, f) : scale, table, y + int64_t(t) * n);
    }
  });
}

}  // namespace nl
