// The precision what-ifs of backend.h: amax for calibration, x -> FP8 -> x with a static or
// per-token scale (an FP8 W8A8 linear's input, an FP8 KV cache), and rounding to BF16 / F16 (a
// narrower recurrent state). The reference is the definition, one value at a time; the fast
// versions split rows over the thread pool with the same per-element arithmetic, so the two
// agree bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
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

float amax_reference(const float* x, int64_t ld, int64_t T, int64_t n) {
  float a = 0.0f;
  for (int64_t t = 0; t < T; t++) a = std::max(a, finite_amax(x + t * ld, n));
  return a;
}

float amax_fast(const float* x, int64_t ld, int64_t T, int64_t n) {
  if (ld == n) {  // contiguous: chunks of the flat array
    constexpr size_t kGrain = 1 << 16;
    const size_t total = size_t(T * n), chunks = (total + kGrain - 1) / kGrain;
    std::vector<float> part(std::max<size_t>(chunks, 1), 0.0f);
    parallel_chunks(total, kGrain, [&](int, size_t b, size_t e) { part[b / kGrain] = finite_amax(x + b, int64_t(e - b)); });
    return *std::max_element(part.begin(), part.end());
  }
  std::vector<float> part(size_t(std::max<int64_t>(T, 1)), 0.0f);
  parallel_chunks(size_t(T), size_t(std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(n, 1))), [&](int, size_t b, size_t e) {
    for (size_t t = b; t < e; t++) part[t] = finite_amax(x + int64_t(t) * ld, n);
  });
  return *std::max_element(part.begin(), part.end());
}

void fake_quant_fp8_reference(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale,
                              float* y, int64_t ldy) {
  const float* table = fp8_decode_table(f);
  for (int64_t t = 0; t < T; t++) {
    const float s = dynamic ? row_scale(x + t * ld, n, f) : scale;
    for (int64_t c = 0; c < n; c++) y[t * ldy + c] = table[f32_to_fp8(x[t * ld + c] / s, f, true)] * s;
  }
}

void fake_quant_fp8_fast(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale, float* y,
                         int64_t ldy) {
  const float* table = fp8_decode_table(f);
  const size_t grain = size_t(std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(n, 1)));
  parallel_chunks(size_t(T), grain, [&](int, size_t b, size_t e) {
    for (size_t t = b; t < e; t++) {
      const float* xr = x + int64_t(t) * ld;
      fake_quant_row(xr, n, f, dynamic ? row_scale(xr, n, f) : scale, table, y + int64_t(t) * ldy);
    }
  });
}

void round_to_reference(float* x, int64_t n, DType storage) {
  NL_CHECK(storage == DType::BF16 || storage == DType::F16, "round_to: storage must be BF16 or F16");
  for (int64_t i = 0; i < n; i++) x[i] = storage == DType::BF16 ? bf16_to_f32(f32_to_bf16(x[i])) : f16_to_f32(f32_to_f16(x[i]));
}

void round_to_fast(float* x, int64_t n, DType storage) {
  NL_CHECK(storage == DType::BF16 || storage == DType::F16, "round_to: storage must be BF16 or F16");
  parallel_chunks(size_t(n), size_t(1) << 16, [&](int, size_t b, size_t e) {
    if (storage == DType::BF16) for (size_t i = b; i < e; i++) x[i] = bf16_to_f32(f32_to_bf16(x[i]));
    else for (size_t i = b; i < e; i++) x[i] = f16_to_f32(f32_to_f16(x[i]));
  });
}

void to_storage_reference(const float* x, int64_t n, DType storage, void* dst) {
  NL_CHECK(storage == DType::F32 || storage == DType::BF16, "to_storage: storage must be F32 or BF16");
  for (int64_t i = 0; i < n; i++) {
    if (storage == DType::BF16) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(x[i]);
    else static_cast<float*>(dst)[i] = x[i];
  }
}

void to_storage_fast(const float* x, int64_t n, DType storage, void* dst) {
  NL_CHECK(storage == DType::F32 || storage == DType::BF16, "to_storage: storage must be F32 or BF16");
  if (storage == DType::F32) { if (dst != x) std::memmove(dst, x, size_t(n) * sizeof(float)); return; }
  uint16_t* d = static_cast<uint16_t*>(dst);
  parallel_chunks(size_t(n), size_t(1) << 16, [&](int, size_t b, size_t e) {
    for (size_t i = b; i < e; i++) d[i] = f32_to_bf16(x[i]);
  });
}

}  // namespace nl
