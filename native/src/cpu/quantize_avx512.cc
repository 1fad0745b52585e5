// The FP8 quantizer's AVX-512 VBMI kernels (see quantize_internal.h).
#include "cpu/quantize_internal.h"

namespace nl {
namespace quant {

#if NL_X86
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge operand, which
// -Wmaybe-uninitialized reports at every inlined call; the values are never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// The same on AVX-512 (16 lanes), for CPUs with VBMI (byte permutes pack the codes).
// Without metrics: the full saturating encoder (NaN and Inf handled in the lanes).
// With metrics, per span: magnitudes only (x and its code share a sign, so x*q, q*q,
// (q-x)^2 and |q-x| need no sign), values rescaled by p = 2^-e (e: the exponent of the
// scale) so that squares neither overflow nor underflow, float partial sums over 256
// elements (16 terms per lane) folded into double lanes, the counts from masks and from
// the packed code bytes. A run of 256 holding a non-finite value, or whose sums overflow,
// is redone by the AVX2 path; max |q - x| is taken exactly (see below). The encoder rounds
// on the FPU (round_grid16), which needs subnormals kept (MXCSR FTZ/DAZ off, as in Node).
struct Enc512 {
  __m512i min_normal, nan_code, sign80;
  int shift;                 // the code's position in r * 2^-bias
  __m512 fmax, down;         // fmax; 2^-bias
  __m512i exp_shift;         // 2^shift as an exponent increment
};
NL_TARGET_AVX512 inline Enc512 enc512(Fp8Format f) {
  const bool e4 = f == Fp8Format::E4M3;
  return {_mm512_set1_epi32(e4 ? 0x3c800000 : 0x38800000), _mm512_set1_epi32(e4 ? 0x7f : 0x7e), _mm512_set1_epi32(0x80), e4 ? 20 : 21,
          _mm512_set1_ps(fp8_max(f)), _mm512_set1_ps(e4 ? 0x1p-120f : 0x1p-112f), _mm512_set1_epi32((e4 ? 20 : 21) << 23)};
}

// 64 elements [i, i+64) of an F32 / BF16 / F16 buffer as four float vectors. BF16 comes
// in an order of its own (a 16-bit value is the top of a float, so a 32-bit lane holding
// two BF16 gives the odd one by masking, the even one by shifting: 2 ops per 32, not 4):
// x[0] = elements 0, 2, .., 30, x[1] = 1, 3, .., 31, x[2] / x[3] the same from 32.
// kPack64 below puts the codes back in memory order.
template <DType T>
NL_TARGET_AVX512 inline void load64(const uint8_t* src, size_t i, __m512* x) {
  if constexpr (T == DType::F32) {
    const float* f = reinterpret_cast<const float*>(src) + i;
    for (int h = 0; h < 4; h++) x[h] = _mm512_loadu_ps(f + 16 * h);
  } else if constexpr (T == DType::F16) {
    const __m256i* h16 = reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(src) + i);
    for (int h = 0; h < 4; h++) x[h] = _mm512_cvtph_ps(_mm256_loadu_si256(h16 + h));
  } else {
    const __m512i* b = reinterpret_cast<const __m512i*>(reinterpret_cast<const uint16_t*>(src) + i);
    const __m512i hi = _mm512_set1_epi32(int(0xffff0000u));
    for (int h = 0; h < 2; h++) {
      __m512i raw = _mm512_loadu_si512(b + h);
      x[2 * h] = _mm512_castsi512_ps(_mm512_slli_epi32(raw, 16));
      x[2 * h + 1] = _mm512_castsi512_ps(_mm512_and_si512(raw, hi));
    }
  }
}

// |y| (>= 0, not NaN) rounded to the FP8 grid by the FPU, saturating: adding m = 2^(E + shift)
// (E: the exponent of |y|, at least the smallest normal's) leaves |y| rounded to nearest
// even at the format's quantum 2^(E - mantissa bits), subtracting m gives it back exactly.
// The code magnitude is then the bits of r * 2^-bias shifted down (exact: the grid's
// values times 2^-bias are floats, the subnormal codes float subnormals).
NL_TARGET_AVX512 inline __m512 round_grid16(__m512 ay, const Enc512& k) {
  __m512 a = _mm512_min_ps(ay, k.fmax);
  __m512i ex = _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(0x7f800000)), k.min_normal);
  __m512 m = _mm512_castsi512_ps(_mm512_add_epi32(ex, k.exp_shift));
  return _mm512_sub_ps(_mm512_add_ps(a, m), m);
}
NL_TARGET_AVX512 inline __m512i grid_code16(__m512 r, const Enc512& k) {
  return _mm512_srli_epi32(_mm512_castps_si512(_mm512_mul_ps(r, k.down)), k.shift);
}
// The full code of y: magnitude, NaN, sign.
NL_TARGET_AVX512 inline __m512i encode16(__m512 y, const Enc512& k) {
  __m512i u = _mm512_castps_si512(y);
  __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
  __m512i mag = grid_code16(round_grid16(_mm512_castsi512_ps(a), k), k);
  __m512i c = _mm512_mask_mov_epi32(mag, _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x7f800000)), k.nan_code);
  return _mm512_ternarylogic_epi32(c, _mm512_srli_epi32(u, 24), k.sign80, 0xf8);  // c | (u >> 24 & 0x80)
}
// load64's |x| for the metrics kernel, with the 64 sign bits in memory order (for the
// packed codes) and the number of zeros, both taken from the raw 16/32-bit values.
template <DType T>
NL_TARGET_AVX512 inline void load64_abs(const uint8_t* src, size_t i, __m512* ax, uint64_t* sign, uint64_t* zeros) {
  const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
  uint64_t sg = 0, z = 0;
  if constexpr (T == DType::BF16) {
    const __m512i* b = reinterpret_cast<const __m512i*>(reinterpret_cast<const uint16_t*>(src) + i);
    for (int h = 0; h < 2; h++) {
      __m512i raw = _mm512_loadu_si512(b + h);
      __m512i a = _mm512_and_si512(raw, _mm512_set1_epi32(0x7fff7fff));
      ax[2 * h] = _mm512_castsi512_ps(_mm512_slli_epi32(a, 16));
      ax[2 * h + 1] = _mm512_castsi512_ps(_mm512_and_si512(a, _mm512_set1_epi32(int(0xffff0000u))));
      sg |= uint64_t(_mm512_movepi16_mask(raw)) << (32 * h);
      z += __builtin_popcount(_mm512_testn_epi16_mask(a, a));
    }
  } else {
    for (int h = 0; h < 4; h++) {
      __m512i u;
      if constexpr (T == DType::F32) {
        u = _mm512_castps_si512(_mm512_loadu_ps(reinterpret_cast<const float*>(src) + i + 16 * h));
      } else {
        __m256i h16 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(reinterpret_cast<const uint16_t*>(src) + i) + h);
        u = _mm512_castps_si512(_mm512_cvtph_ps(h16));
      }
      __m512i a = _mm512_and_si512(u, absmask);
      ax[h] = _mm512_castsi512_ps(a);
      sg |= uint64_t(_mm512_movepi32_mask(u)) << (16 * h);
      z += __builtin_popcount(_mm512_testn_epi32_mask(a, a));
    }
  }
  *sign = sg;
  *zeros = z;
}

// The low bytes of four 16-lane vectors (in load64's order for T) as 64 consecutive bytes.
// Byte j of each half comes from byte idx[j] of the two vectors' 128 bytes.
template <DType T>
NL_TARGET_AVX512 inline __m512i pack64(__m512i c0, __m512i c1, __m512i c2, __m512i c3) {
  alignas(64) static const struct Idx {
    uint8_t v[64];
    Idx() {
      for (int j = 0; j < 64; j++) {
        int jj = j % 32;
        v[j] = uint8_t(T == DType::BF16 ? (jj % 2 == 0 ? 2 * jj : 64 + 2 * (jj - 1)) : (jj < 16 ? 4 * jj : 64 + 4 * (jj - 16)));
      }
    }
  } idx_table;
  const __m512i idx = _mm512_load_si512(idx_table.v);
  __m512i lo = _mm512_permutex2var_epi8(c0, idx, c1), hi = _mm512_permutex2var_epi8(c2, idx, c3);
  return _mm512_inserti64x4(lo, _mm512_castsi512_si256(hi), 1);
}

template <DType T>
NL_TARGET_AVX512 void encode_div_avx512_t(const uint8_t* src, size_t i0, size_t m, float sc, Fp8Format f, uint8_t* out) {
  const Enc512 k = enc512(f);
  const __m512 s = _mm512_set1_ps(sc);
  size_t i = 0;
  for (; i + 64 <= m; i += 64) {
    __m512 x[4];
    load64<T>(src, i0 + i, x);
    _mm512_storeu_si512(out + i, pack64<T>(encode16(_mm512_div_ps(x[0], s), k), encode16(_mm512_div_ps(x[1], s), k),
                                           encode16(_mm512_div_ps(x[2], s), k), encode16(_mm512_div_ps(x[3], s), k)));
  }
  if (i < m) encode_div_avx2(src, T, i0 + i, m - i, sc, f, out + i, nullptr);
}
void encode_div_avx512(const uint8_t* src, DType t, size_t i0, size_t m, float sc, Fp8Format f, uint8_t* out) {
  if (t == DType::BF16) encode_div_avx512_t<DType::BF16>(src, i0, m, sc, f, out);
  else if (t == DType::F16) encode_div_avx512_t<DType::F16>(src, i0, m, sc, f, out);
  else encode_div_avx512_t<DType::F32>(src, i0, m, sc, f, out);
}

// Exact max |fl(table[c] * s) - x| over a span, in double like the reference.
double span_max_abs_exact(const uint8_t* src, DType t, size_t i0, size_t m, float sc, Fp8Format f, const uint8_t* codes) {
  const float* table = fp8_decode_table(f);
  float buf[256];
  double r = 0;
  for (size_t j = 0; j < m; j += 256) {
    size_t n = std::min<size_t>(256, m - j);
    to_f32(src, t, i0 + j, n, buf);
    for (size_t e = 0; e < n; e++)
      if (std::fabs(buf[e]) <= FLT_MAX) r = std::max(r, std::fabs(double(table[codes[j + e]] * sc) - double(buf[e])));
  }
  return r;
}

// acc += v (16 floats) * w, in double lanes.
NL_TARGET_AVX512 inline __m512d widen_fma(__m512d acc, __m512 v, __m512d w) {
  acc = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)), w, acc);
  return _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))), w, acc);
}

template <DType T>
// One row (or span) [i0, i0 + m) whose block b = j / bc (j from the start) has scale scs[b];
// bc is a multiple of 64 when the row holds several blocks, and every scale passes
// row_scales_ok (one rescaling 2^-e, from scs[0], serves them all).
NL_TARGET_AVX512 void encode_metrics_avx512_t(const uint8_t* src, size_t i0, size_t m, const float* scs, size_t bc, Fp8Format f,
                                              uint8_t* out, Metrics512& st, QuantMetrics* acc) {
  const DType t = T;
  const float sc = scs[0];
  // [a, b) through the AVX2 double path, block by block (runs with NaN / Inf, the tail).
  auto redo = [&](size_t a, size_t b) {
    while (a < b) {
      size_t end = std::min(b, (a / bc + 1) * bc);
      encode_div_avx2(src, t, i0 + a, end - a, scs[a / bc], f, out + a, acc);
      a = end;
    }
  };
  const bool e4 = f == Fp8Format::E4M3;
  const Enc512 k = enc512(f);
  // sc in [2^(e-1), 2^e) (normal: metrics512_ok); powers of two made from bits (no libm per span).
  const int e = int((f32_bits(sc) >> 23) & 0xffu) - 126;
  const float p = bits_f32(uint32_t(127 - e) << 23);  // x' = |x| * p  (exact)
  const __m512 vp = _mm512_set1_ps(p);
  __m512 s = _mm512_set1_ps(sc);
  __m512 sq = _mm512_set1_ps(bits_f32(f32_bits(sc) - (uint32_t(e) << 23)));  // q' = grid value * sq = fl(t * s) * p
  size_t cur = 0;  // the block of s, sq
  const __m512 zero = _mm512_setzero_ps(), thr = _mm512_set1_ps(clip_threshold(f));
  const __m512i absmask = _mm512_set1_epi32(0x7fffffff), sign80 = _mm512_set1_epi8(char(0x80)), one8 = _mm512_set1_epi8(1);
  const __m512i sublim = _mm512_set1_epi8(e4 ? 7 : 3);
  double ds;
  const uint64_t dsb = uint64_t(1023 + e) << 52;
  std::memcpy(&ds, &dsb, 8);
  const __m512d vds = _mm512_set1_pd(ds), vds2 = _mm512_set1_pd(ds * ds);
  __m512d dsig = _mm512_load_pd(st.lanes[0]), dnoise = _mm512_load_pd(st.lanes[1]), ddot = _mm512_load_pd(st.lanes[2]);
  __m512d dqq = _mm512_load_pd(st.lanes[3]), dsabs = _mm512_load_pd(st.lanes[4]);
  __m512 fmabs = zero;
  uint64_t clipped_span = 0, magone = 0;
  size_t i = 0;
  while (i + 64 <= m) {
    const size_t run0 = i;
    __m512 sig = zero, noise = zero, dot = zero, qq = zero, sabs = zero, rmabs = zero;
    uint64_t zeros = 0, clipped = 0, magzero = 0, subn = 0, mone = 0;
    for (int g = 0; g < 4 && i + 64 <= m; g++, i += 64) {  // runs of 256 elements: 16 float terms per lane
      if (i / bc != cur) {
        cur = i / bc;
        s = _mm512_set1_ps(scs[cur]);
        sq = _mm512_set1_ps(bits_f32(f32_bits(scs[cur]) - (uint32_t(e) << 23)));
      }
      __m512i c[4];
      __m512 axv[4];
      uint64_t sign, z;
      load64_abs<T>(src, i0 + i, axv, &sign, &z);
      zeros += z;
      for (int h = 0; h < 4; h++) {
        __m512 ax = axv[h];
        __m512 ay = _mm512_div_ps(ax, s);
        __m512 r = round_grid16(ay, k);
        c[h] = grid_code16(r, k);
        __m512 q = _mm512_mul_ps(r, sq);
        __m512 xs = _mm512_mul_ps(ax, vp);
        __m512 d = _mm512_sub_ps(q, xs);
        __m512 ad = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(d), absmask));
        sig = _mm512_fmadd_ps(xs, xs, sig);
        noise = _mm512_fmadd_ps(d, d, noise);
        dot = _mm512_fmadd_ps(xs, q, dot);
        qq = _mm512_fmadd_ps(q, q, qq);
        sabs = _mm512_add_ps(sabs, ad);
        rmabs = _mm512_max_ps(rmabs, ad);
        clipped += __builtin_popcount(_mm512_cmp_ps_mask(ay, thr, _CMP_GT_OQ));
      }
      __m512i mb = pack64<T>(c[0], c[1], c[2], c[3]);  // magnitudes, memory order
      _mm512_storeu_si512(out + i, _mm512_mask_add_epi8(mb, sign, mb, sign80));  // codes: + 0x80 (= | 0x80) where x < 0
      magzero += __builtin_popcountll(_mm512_cmpeq_epi8_mask(mb, _mm512_setzero_si512()));
      subn += __builtin_popcountll(_mm512_cmplt_epu8_mask(_mm512_sub_epi8(mb, one8), sublim));
      mone += __builtin_popcountll(_mm512_cmpeq_epi8_mask(mb, one8));
    }
    // A NaN / Inf x makes x'^2 NaN / Inf; so do squares beyond float. sig and qq bound the
    // other sums (|d| <= max(|q|, |x|), same signs), so their sum being finite clears the run;
    // otherwise the run is redone by the AVX2 path (codes of NaN included) in double lanes.
    if (_mm512_fpclass_ps_mask(_mm512_add_ps(sig, qq), 0x99)) {
      redo(run0, i);
      continue;
    }
    dsig = widen_fma(dsig, sig, vds2); dnoise = widen_fma(dnoise, noise, vds2); ddot = widen_fma(ddot, dot, vds2);
    dqq = widen_fma(dqq, qq, vds2); dsabs = widen_fma(dsabs, sabs, vds);
    fmabs = _mm512_max_ps(fmabs, rmabs);
    st.count += i - run0; st.zeros += zeros; st.clipped += clipped;
    st.flushed_zero += magzero - zeros;  // a zero x always gets a zero magnitude
    st.subnormal += subn;
    clipped_span += clipped; magone += mone;
  }
  _mm512_store_pd(st.lanes[0], dsig); _mm512_store_pd(st.lanes[1], dnoise); _mm512_store_pd(st.lanes[2], ddot);
  _mm512_store_pd(st.lanes[3], dqq); _mm512_store_pd(st.lanes[4], dsabs);
  // max |d|: d' = q' - x' in float is exact (Sterbenz: x'/2 <= q' <= 2x', or q' = 0) unless
  // the value was clipped (q' << x') or got the smallest subnormal code (q' up to ~2x');
  // without those the float max times 2^e is the exact one. With them, the float max is
  // |d| * p rounded to nearest, and rounding is monotone: the span can hold a new maximum
  // only if its float max reaches the current one within an ulp; then it is recomputed in
  // double. (A float max below 2^-100 may come from x' rounded to a float subnormal: same route.)
  __m512d mabs = _mm512_load_pd(st.lanes[5]);
  __m512d lo = _mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(fmabs)), vds);
  __m512d hi = _mm512_mul_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(fmabs), 1))), vds);
  if (clipped_span == 0 && magone == 0 && _mm512_cmp_ps_mask(fmabs, _mm512_set1_ps(0x1p-100f), _CMP_LT_OQ) == 0) {
    _mm512_store_pd(st.lanes[5], _mm512_max_pd(mabs, _mm512_max_pd(lo, hi)));
  } else {
    double cur = _mm512_reduce_max_pd(mabs), fm = _mm512_reduce_max_pd(_mm512_max_pd(lo, hi));
    if (fm * (1.0 + 0x1p-22) + 0x1p-149 * ds >= cur) {
      double ex = 0;
      for (size_t a = 0; a < i; a += bc) ex = std::max(ex, span_max_abs_exact(src, t, i0 + a, std::min(i, a + bc) - a, scs[a / bc], f, out + a));
      _mm512_store_pd(st.lanes[5], _mm512_max_pd(mabs, _mm512_set1_pd(ex)));
    }
  }
  redo(i, m);
}
// max |x| of a span on AVX-512 as an integer max of the magnitude bits (IEEE magnitudes
// order like their bits): BF16 / F16 as 16-bit lanes straight from memory, 32 per op.
// A maximum beyond the finite range means NaN / Inf in the span: then the AVX2 loop
// takes it (finite max and the non-finite count).
template <DType T>
NL_TARGET_AVX512 float amax_avx512_t(const uint8_t* src, size_t i0, size_t m, uint32_t* nonfinite) {
  constexpr bool wide = T == DType::F32;
  const size_t per = wide ? 16 : 32;  // elements per 64-byte vector
  const __m512i mask = _mm512_set1_epi32(wide ? 0x7fffffff : 0x7fff7fff);
  const uint8_t* base = src + i0 * (wide ? 4 : 2);
  __m512i mx0 = _mm512_setzero_si512(), mx1 = mx0;
  size_t i = 0;
  for (; i + 2 * per <= m; i += 2 * per) {
    __m512i a = _mm512_and_si512(_mm512_loadu_si512(base + i * (wide ? 4 : 2)), mask);
    __m512i b = _mm512_and_si512(_mm512_loadu_si512(base + (i + per) * (wide ? 4 : 2)), mask);
    if constexpr (wide) { mx0 = _mm512_max_epu32(mx0, a); mx1 = _mm512_max_epu32(mx1, b); }
    else { mx0 = _mm512_max_epu16(mx0, a); mx1 = _mm512_max_epu16(mx1, b); }
  }
  uint32_t top;
  if constexpr (wide) {
    top = _mm512_reduce_max_epu32(_mm512_max_epu32(mx0, mx1));
  } else {
    __m512i v = _mm512_max_epu16(mx0, mx1);
    v = _mm512_max_epu16(v, _mm512_srli_epi32(v, 16));  // the max of both halves in the low 16 bits
    top = _mm512_reduce_max_epu32(_mm512_and_si512(v, _mm512_set1_epi32(0xffff)));
  }
  float r;
  uint32_t finite_top;
  if constexpr (T == DType::F32) { r = bits_f32(top); finite_top = 0x7f7fffffu; }
  else if constexpr (T == DType::BF16) { r = bits_f32(top << 16); finite_top = 0x7f7fu; }
  else { r = _cvtsh_ss(uint16_t(top)); finite_top = 0x7bffu; }
  if (top > finite_top) return amax_avx2(src, T, i0, m, nonfinite);
  if (i < m) r = std::max(r, amax_avx2(src, T, i0 + i, m - i, nonfinite));
  return r;
}
float amax_avx512(const uint8_t* src, DType t, size_t i0, size_t m, uint32_t* nonfinite) {
  if (t == DType::BF16) return amax_avx512_t<DType::BF16>(src, i0, m, nonfinite);
  if (t == DType::F16) return amax_avx512_t<DType::F16>(src, i0, m, nonfinite);
  return amax_avx512_t<DType::F32>(src, i0, m, nonfinite);
}

// The search's squared error of each candidate scale over one span of floats: per value
// y = |x| / s rounded to the grid (round_grid16), q = r * s, then (q - |x|)^2 in double
// lanes, like the reference's per-value double error (|q - x| is the same with signs);
// non-finite x are left out; the tail is read with a mask (zeros add no error).
NL_TARGET_AVX512 void candidate_errors_avx512(const float* x, size_t m, const std::vector<float>& scales, Fp8Format f, double* err) {
  const Enc512 k = enc512(f);
  const __m512 big = _mm512_set1_ps(FLT_MAX);
  const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
  for (size_t c = 0; c < scales.size(); c++) {
    const __m512 s = _mm512_set1_ps(scales[c]);
    __m512d e0 = _mm512_setzero_pd(), e1 = e0;
    for (size_t i = 0; i < m; i += 16) {
      __mmask16 live = m - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (m - i)) - 1);
      __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(_mm512_maskz_loadu_ps(live, x + i)), absmask));
      __mmask16 fin = _mm512_cmp_ps_mask(ax, big, _CMP_LE_OQ);
      __m512 q = _mm512_mul_ps(round_grid16(_mm512_div_ps(ax, s), k), s);
      __m512d dl = _mm512_sub_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(q)), _mm512_cvtps_pd(_mm512_castps512_ps256(ax)));
      __m512d dh = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(q), 1))),
                                 _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(ax), 1))));
      e0 = _mm512_mask3_fmadd_pd(dl, dl, e0, __mmask8(fin));
      e1 = _mm512_mask3_fmadd_pd(dh, dh, e1, __mmask8(fin >> 8));
    }
    err[c] += _mm512_reduce_add_pd(_mm512_add_pd(e0, e1));
  }
}

void encode_metrics_avx512(const uint8_t* src, DType t, size_t i0, size_t m, const float* scs, size_t bc, Fp8Format f, uint8_t* out,
                           Metrics512& st, QuantMetrics* acc) {
  if (t == DType::BF16) encode_metrics_avx512_t<DType::BF16>(src, i0, m, scs, bc, f, out, st, acc);
  else if (t == DType::F16) encode_metrics_avx512_t<DType::F16>(src, i0, m, scs, bc, f, out, st, acc);
  else encode_metrics_avx512_t<DType::F32>(src, i0, m, scs, bc, f, out, st, acc);
}

// Whether one row's block scales can share the AVX-512 metrics kernel's rescaling: each
// passes metrics512_ok and lies within 2^30 of the first (so s_b * 2^-e stays normal and
// the rescaled values far from float's limits).
bool row_scales_ok(const float* scs, size_t n) {
  int e0 = int((f32_bits(scs[0]) >> 23) & 0xffu);
  for (size_t j = 0; j < n; j++) {
    if (!metrics512_ok(scs[j])) return false;
    int e = int((f32_bits(scs[j]) >> 23) & 0xffu);
    if (e > e0 + 30 || e < e0 - 30) return false;
  }
  return true;
}
#pragma GCC diagnostic pop
#endif

}  // namespace quant
}  // namespace nl
