// The FP8 quantizer's reference (quantize.h): one thread, plain loops, the scalar codec of
// fp8.h, doubles, std::sort for percentiles. The tests require quantize_fp8 to give its
// scales and codes exactly.
#include "cpu/quantize_internal.h"

namespace nl {

using namespace quant;

QuantResult quantize_fp8_reference(const StoredMatrix& s, const QuantParams& p, float* scales, uint8_t* codes) {
  check_params(s, p);
  QuantResult res;
  size_t gr = grid_rows(s, p), gc = grid_cols(s, p);
  // All values as f32 (dequantised input), one thread.
  std::vector<float> x(s.count());
  for (size_t r = 0; r < size_t(s.rows); r++) {
    to_f32(s.data, s.dtype, r * size_t(s.cols), size_t(s.cols), x.data() + r * size_t(s.cols));
    if (s.scale) {
      for (size_t c = 0; c < size_t(s.cols); c++) x[r * size_t(s.cols) + c] *= s.scale_at(int64_t(r), int64_t(c));
    }
  }
  auto finite = [](float v) { return std::isfinite(v); };
  for (float v : x) res.nonfinite += !finite(v);
  const float fmax = fp8_max(p.format);
  const float* table = fp8_decode_table(p.format);
  for (size_t bi = 0; bi < gr; bi++) {
    for (size_t bj = 0; bj < gc; bj++) {
      size_t r0 = bi * p.block_rows, r1 = std::min(size_t(s.rows), r0 + p.block_rows);
      size_t c0 = bj * p.block_cols, c1 = std::min(size_t(s.cols), c0 + p.block_cols);
      std::vector<float> block;
      for (size_t r = r0; r < r1; r++) for (size_t c = c0; c < c1; c++) block.push_back(x[r * size_t(s.cols) + c]);
      float amax = 0;
      for (float v : block) if (finite(v)) amax = std::max(amax, std::fabs(v));
      float& scale = scales[bi * gc + bj];
      if (p.mode == ScaleMode::Amax) {
        scale = amax > 0 ? amax / fmax : 1.0f;
      } else if (p.mode == ScaleMode::Percentile) {
        std::vector<float> a;
        for (float v : block) if (finite(v)) a.push_back(std::fabs(v));
        float clip = percentile_of(a, p.percentile, true);
        scale = clip > 0 ? clip / fmax : 1.0f;
      } else if (p.mode == ScaleMode::Search) {
        int steps = std::max(1, p.search_steps);
        double best_err = INFINITY;
        for (int k = 0; k < steps; k++) {
          double ratio = steps == 1 ? 1.0 : 1.0 - (1.0 - p.search_min_ratio) * double(k) / double(steps - 1);
          float clip = float(double(amax) * ratio);
          float sc = clip > 0 ? clip / fmax : 1.0f;
          double e = 0;
          for (float v : block) {
            if (!finite(v)) continue;
            double d = double(table[f32_to_fp8(v / sc, p.format, true)] * sc) - double(v);
            e += d * d;
          }
          if (e < best_err) { best_err = e; scale = sc; }
        }
      }
      for (size_t r = r0; r < r1; r++) {
        for (size_t c = c0; c < c1; c++) {
          float v = x[r * size_t(s.cols) + c];
          uint8_t code = f32_to_fp8(v / scale, p.format, true);
          codes[r * size_t(s.cols) + c] = code;
          if (!p.metrics || !finite(v)) continue;
          double q = double(table[code] * scale), d = q - double(v);
          QuantMetrics& m = res.m;
          m.sig += double(v) * v; m.noise += d * d; m.dot += double(v) * q; m.qq += q * q;
          m.sum_abs += std::fabs(d); m.max_abs = std::max(m.max_abs, std::fabs(d));
          m.count++;
          m.zeros += v == 0;
          m.clipped += std::fabs(v / scale) > fmax * (1.0f + 1.0f / (1 << 20));
          uint8_t mag = code & 0x7f;
          if (v != 0 && mag == 0) m.flushed_zero++;
          else if (is_subnormal_code(mag, p.format)) m.subnormal++;
        }
      }
    }
  }
  return res;
}

}  // namespace nl

