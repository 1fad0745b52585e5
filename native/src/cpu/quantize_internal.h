// What the files of the FP8 quantizer share (quantize.h is the interface): the span size and
// grid helpers, the branch-free saturating encoders, the error sums of
// a span, percentile and search helpers, and the x86 kernels' entry points. Internal: only
// cpu/quantize*.cc include it.
//   quantize_span.cc      portable span kernels (encode, amax, error sums, percentile)
//   quantize_scale.cc     the scale choice: amax per block, percentile (TopValues), search
//   quantize_avx2.cc      AVX2 kernels (amax, encode, error sums)
//   quantize_avx512.cc    AVX-512 VBMI kernels
//   quantize.cc           the driver (fused per-band path, threads) and quantize_fp8
//   quantize_reference.cc the plain reference the tests compare with
#pragma once
#include "cpu/quantize.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cstring>
#include <vector>

#include "cpu/fp8_codec.h"
#include "cpu/fp8_simd.h"
#include "thread_pool.h"

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define NL_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NL_SIMD_CLONES
#endif

namespace nl {
namespace quant {

inline constexpr size_t kSpan = 2048;
inline constexpr size_t kGrainElems = size_t(1) << 16;

// The output scale grid (p's blocks over s).
inline size_t grid_cols(const StoredMatrix& s, const QuantParams& p) { return size_t(blocks_covering(s.cols, int64_t(p.block_cols))); }
inline size_t grid_rows(const StoredMatrix& s, const QuantParams& p) { return size_t(blocks_covering(s.rows, int64_t(p.block_rows))); }

// m values of row r from column c0, dequantised; F32 without scale is read in place.
inline const float* read_span(const StoredMatrix& s, size_t r, size_t c0, size_t m, float* buf) {
  return nl::read_span(s, r * size_t(s.cols) + c0, m, buf);
}

// Branch-free saturating encoders, equal to f32_to_e4m3(y, true) / f32_to_e5m2(y, true)
// for every input (the test sweeps all BF16 values and random floats through both).
// Selects are written as masks so the compiler vectorises the loop (no control flow).
inline uint32_t select(uint32_t mask, uint32_t a, uint32_t b) { return (mask & a) | (~mask & b); }

inline uint32_t e4m3_sat(float y) {
  uint32_t u = f32_bits(y);
  uint32_t sign = (u >> 24) & 0x80u, a = u & 0x7fffffffu;
  uint32_t as = std::min(a, 0x43e00000u);                             // |y| > 448 saturates
  uint32_t sub = f32_bits(bits_f32(as) + 16384.0f) - 0x46800000u;    // below 2^-6: quantum 2^-9, RNE by the FPU
  uint32_t nor = (as + 0xc4000000u + 0x7ffffu + ((as >> 20) & 1u)) >> 20;
  uint32_t c = select(0u - uint32_t(as < 0x3c800000u), sub, nor);
  c = select(0u - uint32_t(a > 0x7f800000u), 0x7fu, c);              // NaN
  return sign | c;
}

inline uint32_t e5m2_sat(float y) {
  uint32_t u = f32_bits(y);
  uint32_t sign = (u >> 24) & 0x80u, a = u & 0x7fffffffu;
  uint32_t as = std::min(a, 0x47600000u);                             // |y| > 57344 saturates
  uint32_t sub = f32_bits(bits_f32(as) + 128.0f) - 0x43000000u;      // below 2^-14: quantum 2^-16
  uint32_t nor = (as + 0xc8000000u + 0xfffffu + ((as >> 21) & 1u)) >> 21;
  uint32_t c = select(0u - uint32_t(as < 0x38800000u), sub, nor);
  c = select(0u - uint32_t(a > 0x7f800000u), 0x7eu, c);
  return sign | c;
}

// Encodes n values x / s into codes (saturating); vectorised clones per ISA.
void encode_span(Fp8Format f, const float* x, size_t n, float s, uint8_t* out);
// max |x| over finite values, and the count of non-finite ones.
float span_amax(const float* x, size_t n, uint32_t* nonfinite);

inline bool is_subnormal_code(uint8_t mag, Fp8Format f) {
  return f == Fp8Format::E4M3 ? (mag & 0x78u) == 0 && (mag & 7u) != 0 : (mag & 0x7cu) == 0 && (mag & 3u) != 0;
}

// |x / s| beyond fmax (a hair of slack: amax / (amax / fmax) may round just above fmax).
inline float clip_threshold(Fp8Format f) { return fp8_max(f) * (1.0f + 1.0f / (1 << 20)); }

// Adds the error of codes c (scale s) against x over n values to a (non-finite x skipped).
void span_metrics(const float* x, const uint8_t* c, size_t n, float s, Fp8Format f, QuantMetrics& a);
void merge(QuantMetrics& a, const QuantMetrics& b);

// The scale of a clipping value: clip / fmax in f32 (1 when the block is all zeros).
inline float scale_of(float clip, Fp8Format f) { return clip > 0.0f ? clip / fp8_max(f) : 1.0f; }

// Linear-interpolated q-th percentile of v (torch.quantile's rule and rounding, in float32).
float percentile_of(std::vector<float>& v, double q, bool sort_all);

// The scale of every block by p.mode (amax given per block), into scales.
void choose_scales(const StoredMatrix& s, const QuantParams& p, const std::vector<float>& amax, float* scales);
// Per-block amax (finite values), multi-threaded; adds the non-finite count.
std::vector<float> block_amax(const StoredMatrix& s, const QuantParams& p, uint64_t* nonfinite);

#if NL_X86
// The fused path's inner loops on AVX2, reading F32/BF16/F16 straight from the source:
// amax, then y = x / s, the saturating encoder, and (optionally) the error sums in double
// lanes, in one sweep over data that is still in cache.
inline bool direct_source(const StoredMatrix& s) {
  return !s.scale && cpu_has_avx2() && (s.dtype == DType::F32 || s.dtype == DType::BF16 || s.dtype == DType::F16);
}
float amax_avx2(const uint8_t* src, DType t, size_t i0, size_t m, uint32_t* nonfinite);
void encode_div_avx2(const uint8_t* src, DType t, size_t i0, size_t m, float sc, Fp8Format f, uint8_t* out, QuantMetrics* acc);

// True when the metrics fast path is exact enough for this scale: the rescaled decode
// q' = (code bits) * (s * 2^(bias - e)) must round like table[c] * s, i.e. neither
// product may leave float's normal range.
inline bool metrics512_ok(float sc) { return sc >= 0x1p-110f && sc <= 0x1p100f; }

// The AVX-512 error sums of one thread's rows, kept in double lanes across spans (no
// reduction per span: 128-column blocks make short spans); flushed into QuantMetrics.
struct alignas(64) Metrics512 {
  double lanes[6][8] = {};  // sig, noise, dot, qq, sum |d|, max |d| (exact, see below)
  uint64_t count = 0, zeros = 0, clipped = 0, flushed_zero = 0, subnormal = 0;
  void flush_into(QuantMetrics& a) {
    for (int j = 0; j < 8; j++) {
      a.sig += lanes[0][j]; a.noise += lanes[1][j]; a.dot += lanes[2][j]; a.qq += lanes[3][j]; a.sum_abs += lanes[4][j];
      a.max_abs = std::max(a.max_abs, lanes[5][j]);
    }
    a.count += count; a.zeros += zeros; a.clipped += clipped; a.flushed_zero += flushed_zero; a.subnormal += subnormal;
    *this = Metrics512();
  }
};

void encode_metrics_avx2(const uint8_t* src, DType t, size_t i0, size_t m, float sc, Fp8Format f, uint8_t* out,
                         Metrics512& st, QuantMetrics* acc);
void encode_div_avx512(const uint8_t* src, DType t, size_t i0, size_t m, float sc, Fp8Format f, uint8_t* out);
void encode_metrics_avx512(const uint8_t* src, DType t, size_t i0, size_t m, const float* scs, size_t bc, Fp8Format f, uint8_t* out,
                           Metrics512& st, QuantMetrics* acc);
float amax_avx512(const uint8_t* src, DType t, size_t i0, size_t m, uint32_t* nonfinite);
void candidate_errors_avx512(const float* x, size_t m, const std::vector<float>& scales, Fp8Format f, double* err);
bool row_scales_ok(const float* scs, size_t n);
double span_max_abs_exact(const uint8_t* src, DType t, size_t i0, size_t m, float sc, Fp8Format f, const uint8_t* codes);

// max |x| of a span read straight from the source (direct_source), the best SIMD level.
inline float amax_direct(const StoredMatrix& s, size_t i0, size_t m, uint32_t* nonfinite) {
  return cpu_has_avx512vbmi() ? amax_avx512(s.data, s.dtype, i0, m, nonfinite) : amax_avx2(s.data, s.dtype, i0, m, nonfinite);
}
#endif

inline void check_params(const StoredMatrix& s, const QuantParams& p) {
  NL_CHECK(p.block_rows > 0 && p.block_cols > 0, "quantize: block sizes must be positive");
  NL_CHECK(p.mode != ScaleMode::Percentile || (p.percentile > 0 && p.percentile <= 100), "quantize: percentile must be in (0, 100]");
  NL_CHECK(p.mode != ScaleMode::Search || (p.search_steps >= 1 && p.search_min_ratio > 0 && p.search_min_ratio <= 1),
           "quantize: search needs steps >= 1 and min ratio in (0, 1]");
  (void)s;
}


}  // namespace quant
}  // namespace nl
