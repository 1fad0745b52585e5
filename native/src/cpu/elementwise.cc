// Small element-wise ops (ReLU², residual add, dt = softplus(raw + bias) with its clamp)
// and the sampling helpers over a logits row (argmax, top-k, softmax with temperature).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "cpu/kernels.h"
#include "simd.h"
#include "thread_pool.h"

namespace nl {

void relu2_reference(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) { float r = x[i] > 0 ? x[i] : 0.0f; x[i] = r * r; }
}
void add_reference(float* h, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) h[i] += y[i];
}

// softplus as the kernels compute it: x itself above 20.
static inline float softplus(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }

void dt_softplus_reference(const float* raw, int64_t ld_raw, int64_t T, int64_t nh, const float* bias, float lo,
                           float hi, float* dt) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < nh; h++) {
      double v = double(raw[t * ld_raw + h]) + bias[h];
      double s = v > 20.0 ? v : std::log1p(std::exp(v));
      dt[t * nh + h] = float(std::min<double>(std::max<double>(s, lo), hi));
    }
}

namespace {
NL_KERNEL void relu2_span(float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) { float r = x[i] > 0 ? x[i] : 0.0f; x[i] = r * r; }
}
NL_KERNEL void add_span(float* h, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) h[i] += y[i];
}
}  // namespace

void relu2_fast(float* x, int64_t n) {
  parallel_for(size_t(n), 1 << 16, [&](size_t b, size_t e) { relu2_span(x + b, int64_t(e - b)); });
}
void add_fast(float* h, const float* y, int64_t n) {
  parallel_for(size_t(n), 1 << 16, [&](size_t b, size_t e) { add_span(h + b, y + b, int64_t(e - b)); });
}
void dt_softplus_fast(const float* raw, int64_t ld_raw, int64_t T, int64_t nh, const float* bias, float lo, float hi,
                      float* dt) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t h = 0; h < nh; h++) dt[t * nh + h] = std::min(std::max(softplus(raw[t * ld_raw + h] + bias[h]), lo), hi);
}

int64_t argmax(const float* x, int64_t n) {
  NL_CHECK(n > 0, "argmax of an empty row");
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (x[i] > x[best] || (std::isnan(x[i]) && !std::isnan(x[best]))) best = i;
  return best;
}

void top_k(const float* x, int64_t n, int64_t k, float* values, int32_t* indices) {
  NL_CHECK(k >= 0 && k <= n, "top_k: k must be in [0, n]");
  std::vector<int32_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  auto better = [&](int32_t a, int32_t b) { return x[a] > x[b] || (x[a] == x[b] && a < b); };
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), better);
  for (int64_t i = 0; i < k; i++) { indices[i] = idx[i]; values[i] = x[idx[i]]; }
}

double softmax_inplace(float* x, int64_t n, float temperature) {
  NL_CHECK(temperature > 0, "softmax: temperature must be positive");
  NL_CHECK(n > 0, "softmax of an empty row");
  float m = x[argmax(x, n)];
  double sum = 0;
  for (int64_t i = 0; i < n; i++) { double e = std::exp(double(x[i] - m) / temperature); x[i] = float(e); sum += e; }
  for (int64_t i = 0; i < n; i++) x[i] = float(x[i] / sum);
  return std::log(sum) + m / temperature;
}

}  // namespace nl
