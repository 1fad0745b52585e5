// Fused FP8 quantization (see quantize.h). Two implementations:
//  - quantize_fp8: the fast one. Amax scales per channel or per 2-D block run as ONE pass
//    over memory: each band of block_rows rows is read, its block amaxes taken, scales
//    set, codes written and (optionally) the error summed while the band is still in
//    cache. Per-tensor amax needs the whole tensor's amax first, so it reads twice.
//    The encoder is a branch-free version of f32_to_fp8 (saturating) so the compiler
//    vectorises division and encoding (x / scale, like torch, not x * (1 / scale)).
//    On x86 the spans are read straight from F32/BF16/F16 by AVX-512 (VBMI) or AVX2 loops;
//    the SIMD error sums run in float over runs of 16 terms per lane before going to
//    double (within ~1.1e-6 relative of the all-double reference; counts and max |error|
//    stay exact). Percentile scales keep only each block's largest values (TopValues);
//    the search evaluates its candidate scales on AVX-512 with the reference's double error.
//  - quantize_fp8_reference: one thread, plain loops, the scalar codec of fp8.h, doubles,
//    std::sort for percentiles. The tests require both to give identical scales and codes.
//
// The files: see quantize_internal.h. This one is the driver.
#include "cpu/quantize_internal.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cstring>
#include <vector>

#include "cpu/fp8_codec.h"
#include "cpu/fp8_simd.h"
#include "thread_pool.h"

namespace nl {

using namespace quant;

namespace {

// Encodes rows [rb, re) with the given scales, adding the error to `acc` when asked.
void encode_rows(const StoredMatrix& s, const QuantParams& p, const float* scales, uint8_t* codes, size_t rb, size_t re,
                 QuantMetrics* acc, float* buf) {
#if NL_X86
  Metrics512 m512;
#endif
  size_t gc = grid_cols(s, p);
  for (size_t r = rb; r < re; r++) {
    const float* srow = scales + (r / p.block_rows) * gc;
#if NL_X86
    // With metrics on AVX-512, a whole row in one call (short blocks would pay the
    // kernel's set-up and fold per block).
    if (acc && direct_source(s) && cpu_has_avx512vbmi() && (gc == 1 || p.block_cols % 64 == 0) && row_scales_ok(srow, gc)) {
      encode_metrics_avx512(s.data, s.dtype, r * size_t(s.cols), size_t(s.cols), srow, gc == 1 ? size_t(s.cols) : p.block_cols, p.format, codes + r * size_t(s.cols), m512, acc);
      continue;
    }
#endif
    for (size_t c0 = 0; c0 < size_t(s.cols);) {
      size_t m = std::min({kSpan, size_t(s.cols) - c0, p.block_cols - c0 % p.block_cols});
      float sc = srow[c0 / p.block_cols];
      uint8_t* out = codes + r * size_t(s.cols) + c0;
#if NL_X86
      if (direct_source(s)) {
        if (cpu_has_avx512vbmi() && !acc) encode_div_avx512(s.data, s.dtype, r * size_t(s.cols) + c0, m, sc, p.format, out);
        else if (cpu_has_avx512vbmi() && metrics512_ok(sc)) encode_metrics_avx512(s.data, s.dtype, r * size_t(s.cols) + c0, m, &sc, m, p.format, out, m512, acc);
        else if (acc && metrics512_ok(sc)) encode_metrics_avx2(s.data, s.dtype, r * size_t(s.cols) + c0, m, sc, p.format, out, m512, acc);
        else encode_div_avx2(s.data, s.dtype, r * size_t(s.cols) + c0, m, sc, p.format, out, acc);
        c0 += m;
        continue;
      }
#endif
      const float* x = read_span(s, r, c0, m, buf);
      encode_span(p.format, x, m, sc, out);
      if (acc) span_metrics(x, out, m, sc, p.format, *acc);
      c0 += m;
    }
  }
#if NL_X86
  if (acc) m512.flush_into(*acc);
#endif
}

struct alignas(64) PaddedMetrics { QuantMetrics m; uint64_t nonfinite = 0; };

}  // namespace

QuantResult quantize_fp8(const StoredMatrix& s, const QuantParams& p, float* scales, uint8_t* codes) {
  check_params(s, p);
  QuantResult res;
  int T = num_threads();
  std::vector<PaddedMetrics> acc(T);
  size_t gc = grid_cols(s, p);
  if (p.mode == ScaleMode::Amax && p.block_rows < size_t(s.rows)) {
    // The fused path: per band of block_rows rows, amax -> scales -> codes (+ error), in cache.
    size_t bands = grid_rows(s, p);
    size_t band_elems = std::max<size_t>(1, p.block_rows * size_t(s.cols));
    parallel_chunks(bands, std::max<size_t>(1, kGrainElems / band_elems), [&](int t, size_t bb, size_t be) {
      alignas(64) float buf[kSpan];
      uint32_t bad = 0;
      for (size_t band = bb; band < be; band++) {
        size_t r0 = band * p.block_rows, r1 = std::min(size_t(s.rows), r0 + p.block_rows);
        float* srow = scales + band * gc;
        for (size_t j = 0; j < gc; j++) srow[j] = 0.0f;
        for (size_t r = r0; r < r1; r++) {
          for (size_t c0 = 0; c0 < size_t(s.cols);) {
            size_t m = std::min({kSpan, size_t(s.cols) - c0, p.block_cols - c0 % p.block_cols});
#if NL_X86
            float v = direct_source(s) ? amax_direct(s, r * size_t(s.cols) + c0, m, &bad)
                                       : span_amax(read_span(s, r, c0, m, buf), m, &bad);
#else
            float v = span_amax(read_span(s, r, c0, m, buf), m, &bad);
#endif
            srow[c0 / p.block_cols] = std::max(srow[c0 / p.block_cols], v);
            c0 += m;
          }
        }
        for (size_t j = 0; j < gc; j++) srow[j] = scale_of(srow[j], p.format);
        encode_rows(s, p, scales, codes, r0, r1, p.metrics ? &acc[t].m : nullptr, buf);
      }
      acc[t].nonfinite += bad;
    });
  } else {
    std::vector<float> amax = block_amax(s, p, &res.nonfinite);
    choose_scales(s, p, amax, scales);
    parallel_chunks(s.rows, std::max<size_t>(1, kGrainElems / std::max<size_t>(1, size_t(s.cols))), [&](int t, size_t rb, size_t re) {
      alignas(64) float buf[kSpan];
      encode_rows(s, p, scales, codes, rb, re, p.metrics ? &acc[t].m : nullptr, buf);
    });
  }
  for (auto& a : acc) { merge(res.m, a.m); res.nonfinite += a.nonfinite; }
  return res;
}

}  // namespace nl
