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

float element_f32(const uint8_t* data, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return reinterpret_cast<const float*>(data)[i];
    case DType::BF16: return bf16_to_f32(reinterpret_cast<const uint16_t*>(data)[i]);
    case DType::F16: return f16_to_f32(reinterpret_cast<const uint16_t*>(data)[i]);
    case DType::F8_E4M3: return e4m3_to_f32(data[i]);
    case DType::F8_E5M2: return e5m2_to_f32(data[i]);
    default: NL_CHECK(false, "weights must be F32, BF16, F16, F8_E4M3 or F8_E5M2, got dtype code " + std::to_string(int(t)));
  }
  return 0;
}

const float* read_span(const StoredMatrix& s, size_t i, size_t m, float* buf) {
  if (!s.scale && s.dtype == DType::F32) return reinterpret_cast<const float*>(s.data) + i;
  to_f32(s.data, s.dtype, i, m, buf);
  if (s.scale) {
    const size_t cols = size_t(s.cols), c0 = i % cols, bc = size_t(s.block_cols);
    const float* sc = s.scale_row(int64_t(i / cols));
    for (size_t k = 0; k < m; k++) buf[k] *= sc[(c0 + k) / bc];
  }
  return buf;
}

void dequantize(const StoredMatrix& s, float* out) {
  const size_t rows = size_t(s.rows), cols = size_t(s.cols);
  size_t grain = cols >= (1u << 16) ? 1 : (size_t(1) << 16) / (cols ? cols : 1);
  parallel_for(rows, grain, [&](size_t rb, size_t re) {
    for (size_t r = rb; r < re; r++) {
      float* o = out + r * cols;
      const float* v = read_span(s, r * cols, cols, o);
      if (v != o) std::memcpy(o, v, cols * 4);
    }
  });
}

}  // namespace nl
