// Vector helpers shared by the attention and scan kernels (one definition, cloned per ISA).
#include "cpu/kernels.h"
#include "simd.h"

namespace nl {

using namespace simd;

NL_KERNEL float dot_f32(const float* a, const float* b, int64_t n) {
  v16f acc = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) acc += load(a + i) * load(b + i);
  float s = hsum(acc);
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}

NL_KERNEL void axpy_f32(float alpha, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

}  // namespace nl
