// Element conversion to f32 for every dtype, and dequantisation of a [rows, cols] tensor
// with a scale per (block of rows, block of cols): one rule covers per-tensor scales
// (one block), per-row scales (1 x cols blocks) and 2-D block scales.
#include "cpu/fp8_codec.h"
#include "thread_pool.h"

namespace nl {

void to_f32(const uint8_t* src, DType t, size_t start, size_t n, float* out) {
  switch (t) {
    case DType::F64: { auto p = reinterpret_cast<const double*>(src) + start; for (size_t i = 0; i < n; i++) out[i] = float(p[i]); break; }
    case DType::F32: std::memcpy(out, reinterpret_cast<const float*>(src) + start, n * 4); break;
    case DType::F16: { auto p = reinterpret_cast<const uint16_t*>(src) + start; for (size_t i = 0; i < n; i++) out[i] = f16_to_f32(p[i]); break; }
    case DType::BF16: { auto p = reinterpret_cast<const uint16_t*>(src) + start; for (size_t i = 0; i < n; i++) out[i] = bf16_to_f32(p[i]); break; }
    case DType::F8_E4M3: { auto tb = fp8_decode_table(Fp8Format::E4M3); for (size_t i = 0; i < n; i++) out[i] = tb[src[start + i]]; break; }
    case DType::F8_E5M2: { auto tb = fp8_decode_table(Fp8Format::E5M2); for (size_t i = 0; i < n; i++) out[i] = tb[src[start + i]]; break; }
    case DType::I8: { auto p = reinterpret_cast<const int8_t*>(src) + start; for (size_t i = 0; i < n; i++) out[i] = float(p[i]); break; }
    case DType::I16: { auto p = reinterpret_cast<const int16_t*>(src) + start; for (size_t i = 0; i < n; i++) out[i] = float(p[i]); break; }
    case DType::I32: { auto p = reinterpret_cast<const int32_t*>(src) + start; for (size_t i = 0; i < n; i++) out[i] = float(p[i]); break; }
    case DType::I64: { auto p = reinterpret_cast<const int64_t*>(src) + start; for (size_t i = 0; i < n; i++) out[i] = float(p[i]); break; }
    case DType::U8: case DType::BOOL: for (size_t i = 0; i < n; i++) out[i] = float(src[start + i]); break;
    default: NL_CHECK(false, "unknown dtype code " + std::to_string(int(t)));
  }
}

void dequantize(const uint8_t* src, DType t, size_t rows, size_t cols, const float* scale, size_t block_rows,
                size_t block_cols, float* out) {
  size_t scale_cols = scale ? (cols + block_cols - 1) / block_cols : 0;
  size_t grain = cols >= (1u << 16) ? 1 : (size_t(1) << 16) / (cols ? cols : 1);
  parallel_for(rows, grain, [&](size_t rb, size_t re) {
    for (size_t r = rb; r < re; r++) {
      float* o = out + r * cols;
      to_f32(src, t, r * cols, cols, o);
      if (!scale) continue;
      const float* s = scale + (r / block_rows) * scale_cols;
      for (size_t c = 0; c < cols; c++) o[c] *= s[c / block_cols];
    }
  });
}

}  // namespace nl
