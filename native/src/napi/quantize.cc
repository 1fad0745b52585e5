// Fused FP8 quantization binding: quantizeFp8 (fast) and its reference (see cpu/quantize.h).
#include "cpu/quantize.h"
#include "napi/tensor_arg.h"

namespace nl {

// quantizeFp8(src, dtype, rows, cols, srcScale | null, srcBlockRows, srcBlockCols,
//             format, blockRows, blockCols, mode, percentile, searchSteps, searchMinRatio,
//             scales: Float32Array (in for mode 3, else out), codes: Uint8Array, metrics: bool, reference: bool)
//   -> { nonfinite, count, sig, noise, dot, qq, sumAbs, maxAbs, zeros, clipped, flushedZero, subnormal }
NL_EXPORT(quantizeFp8) {
  StoredMatrix s = arg_stored_matrix(info, 0, "quantizeFp8");
  QuantParams p;
  int64_t f = arg_int(info, 7, "format");
  NL_CHECK(f == 0 || f == 1, "quantizeFp8: format must be 0 (e4m3) or 1 (e5m2)");
  p.format = Fp8Format(f);
  int64_t br = arg_int(info, 8, "blockRows"), bc = arg_int(info, 9, "blockCols");
  NL_CHECK(br > 0 && bc > 0, "quantizeFp8: block sizes must be positive");
  p.block_rows = size_t(br);
  p.block_cols = size_t(bc);
  int64_t mode = arg_int(info, 10, "mode");
  NL_CHECK(mode >= 0 && mode <= 3, "quantizeFp8: mode must be 0 amax, 1 percentile, 2 search or 3 given");
  p.mode = ScaleMode(mode);
  p.percentile = arg_number(info, 11, "percentile");
  p.search_steps = int(arg_int(info, 12, "searchSteps"));
  p.search_min_ratio = arg_number(info, 13, "searchMinRatio");
  Bytes scales = arg_bytes(info, 14, "scales");
  Bytes codes = arg_bytes(info, 15, "codes");
  p.metrics = arg_bool(info, 16);
  bool reference = arg_bool(info, 17);
  const size_t nb = size_t(scale_grid_count(s.rows, s.cols, br, bc));
  NL_CHECK(scales.size / 4 >= nb, "quantizeFp8: scales holds " + std::to_string(scales.size / 4) + " floats, blocks need " + std::to_string(nb));
  NL_CHECK(codes.size >= size_t(s.count()), "quantizeFp8: codes output too small");
  float* sp = reinterpret_cast<float*>(scales.data);
  QuantResult r = reference ? quantize_fp8_reference(s, p, sp, codes.data) : quantize_fp8(s, p, sp, codes.data);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("nonfinite", double(r.nonfinite));
  o.Set("count", double(r.m.count));
  o.Set("sig", r.m.sig); o.Set("noise", r.m.noise); o.Set("dot", r.m.dot); o.Set("qq", r.m.qq);
  o.Set("sumAbs", r.m.sum_abs); o.Set("maxAbs", r.m.max_abs);
  o.Set("zeros", double(r.m.zeros)); o.Set("clipped", double(r.m.clipped));
  o.Set("flushedZero", double(r.m.flushed_zero)); o.Set("subnormal", double(r.m.subnormal));
  return o;
}

}  // namespace nl
