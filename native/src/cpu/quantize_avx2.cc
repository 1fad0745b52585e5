// The FP8 quantizer's AVX2 kernels (see quantize_internal.h), reading F32/BF16/F16 straight
// from the source: amax, encode, and the error sums (the metrics kernel, for CPUs without VBMI).
#include "cpu/quantize_internal.h"

namespace nl {
namespace quant {

#if NL_X86

NL_TARGET_AVX2 float amax_avx2(const uint8_t* src, DType t, size_t i0, size_t m, uint32_t* nonfinite) {
  const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(FLT_MAX);
  __m256 am = _mm256_setzero_ps();
  __m256i nf = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 8 <= m; i += 8) {
    __m256 a = _mm256_andnot_ps(sign, load8(src, t, i0 + i));
    __m256 fin = _mm256_cmp_ps(a, big, _CMP_LE_OQ);
    am = _mm256_max_ps(am, _mm256_and_ps(a, fin));
    nf = _mm256_sub_epi32(nf, _mm256_castps_si256(_mm256_xor_ps(fin, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))));
  }
  alignas(32) float l[8];
  alignas(32) uint32_t c[8];
  _mm256_store_ps(l, am);
  _mm256_store_si256(reinterpret_cast<__m256i*>(c), nf);
  float r = 0;
  for (int j = 0; j < 8; j++) { r = std::max(r, l[j]); *nonfinite += c[j]; }
  if (i < m) {
    float buf[8];
    to_f32(src, t, i0 + i, m - i, buf);
    r = std::max(r, span_amax(buf, m - i, nonfinite));
  }
  return r;
}

NL_TARGET_AVX2 inline __m256d lo4(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
NL_TARGET_AVX2 inline __m256d hi4(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

NL_TARGET_AVX2 void encode_div_avx2(const uint8_t* src, DType t, size_t i0, size_t m, float sc, Fp8Format f,
                                    uint8_t* out, QuantMetrics* acc) {
  const Fp8Consts k = fp8_consts(f, true);
  const __m256 s = _mm256_set1_ps(sc);
  size_t i = 0;
  if (!acc) {
    for (; i + 32 <= m; i += 32) {
      store32_codes(out + i, encode8(_mm256_div_ps(load8(src, t, i0 + i), s), k),
                    encode8(_mm256_div_ps(load8(src, t, i0 + i + 8), s), k),
                    encode8(_mm256_div_ps(load8(src, t, i0 + i + 16), s), k),
                    encode8(_mm256_div_ps(load8(src, t, i0 + i + 24), s), k));
    }
  } else {
    const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(FLT_MAX), zero = _mm256_setzero_ps();
    const __m256 thr = _mm256_set1_ps(clip_threshold(f));
    const __m256i mag_mask = _mm256_set1_epi32(0x7f);
    const __m256i exp_mask = _mm256_set1_epi32(f == Fp8Format::E4M3 ? 0x78 : 0x7c);
    __m256d sig = _mm256_setzero_pd(), noise = sig, dot = sig, qq = sig, sabs = sig, mabs = sig;
    __m256i cnt = _mm256_setzero_si256(), zeros = cnt, clipped = cnt, flushed = cnt, subn = cnt;
    for (; i + 32 <= m; i += 32) {
      __m256i c[4];
      for (int h = 0; h < 4; h++) {
        __m256 x = load8(src, t, i0 + i + 8 * h);
        __m256 y = _mm256_div_ps(x, s);
        c[h] = encode8(y, k);
        __m256 q = _mm256_mul_ps(decode8(c[h], f), s);
        __m256 fin = _mm256_cmp_ps(_mm256_andnot_ps(sign, x), big, _CMP_LE_OQ);
        __m256i fini = _mm256_castps_si256(fin);
        __m256 xf = _mm256_and_ps(x, fin), qf = _mm256_and_ps(q, fin);
        __m256d xl = lo4(xf), xh = hi4(xf), ql = lo4(qf), qh = hi4(qf);
        __m256d dl = _mm256_sub_pd(ql, xl), dh = _mm256_sub_pd(qh, xh);
        sig = _mm256_fmadd_pd(xl, xl, _mm256_fmadd_pd(xh, xh, sig));
        noise = _mm256_fmadd_pd(dl, dl, _mm256_fmadd_pd(dh, dh, noise));
        dot = _mm256_fmadd_pd(xl, ql, _mm256_fmadd_pd(xh, qh, dot));
        qq = _mm256_fmadd_pd(ql, ql, _mm256_fmadd_pd(qh, qh, qq));
        const __m256d sgn = _mm256_set1_pd(-0.0);
        __m256d adl = _mm256_andnot_pd(sgn, dl), adh = _mm256_andnot_pd(sgn, dh);
        sabs = _mm256_add_pd(sabs, _mm256_add_pd(adl, adh));
        mabs = _mm256_max_pd(mabs, _mm256_max_pd(adl, adh));
        cnt = _mm256_sub_epi32(cnt, fini);
        zeros = _mm256_sub_epi32(zeros, _mm256_castps_si256(_mm256_and_ps(fin, _mm256_cmp_ps(x, zero, _CMP_EQ_OQ))));
        clipped = _mm256_sub_epi32(clipped, _mm256_castps_si256(_mm256_and_ps(fin, _mm256_cmp_ps(_mm256_andnot_ps(sign, y), thr, _CMP_GT_OQ))));
        __m256i mag = _mm256_and_si256(c[h], mag_mask);
        __m256i magzero = _mm256_cmpeq_epi32(mag, _mm256_setzero_si256());
        __m256i xnz = _mm256_castps_si256(_mm256_cmp_ps(x, zero, _CMP_NEQ_OQ));  // NaN counts as non-zero, but is masked by fin
        __m256i fl = _mm256_and_si256(fini, _mm256_and_si256(xnz, magzero));
        flushed = _mm256_sub_epi32(flushed, fl);
        __m256i sub = _mm256_andnot_si256(magzero, _mm256_cmpeq_epi32(_mm256_and_si256(mag, exp_mask), _mm256_setzero_si256()));
        subn = _mm256_sub_epi32(subn, _mm256_andnot_si256(fl, _mm256_and_si256(fini, sub)));
      }
      store32_codes(out + i, c[0], c[1], c[2], c[3]);
    }
    alignas(32) double v[6][4];
    _mm256_store_pd(v[0], sig); _mm256_store_pd(v[1], noise); _mm256_store_pd(v[2], dot);
    _mm256_store_pd(v[3], qq); _mm256_store_pd(v[4], sabs); _mm256_store_pd(v[5], mabs);
    alignas(32) uint32_t n[5][8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(n[0]), cnt); _mm256_store_si256(reinterpret_cast<__m256i*>(n[1]), zeros);
    _mm256_store_si256(reinterpret_cast<__m256i*>(n[2]), clipped); _mm256_store_si256(reinterpret_cast<__m256i*>(n[3]), flushed);
    _mm256_store_si256(reinterpret_cast<__m256i*>(n[4]), subn);
    for (int j = 0; j < 4; j++) {
      acc->sig += v[0][j]; acc->noise += v[1][j]; acc->dot += v[2][j]; acc->qq += v[3][j]; acc->sum_abs += v[4][j];
      acc->max_abs = std::max(acc->max_abs, v[5][j]);
    }
    for (int j = 0; j < 8; j++) {
      acc->count += n[0][j]; acc->zeros += n[1][j]; acc->clipped += n[2][j]; acc->flushed_zero += n[3][j]; acc->subnormal += n[4][j];
    }
  }
  if (i < m) {
    float buf[32];
    to_f32(src, t, i0 + i, m - i, buf);
    encode_span(f, buf, m - i, sc, out + i);
    if (acc) span_metrics(buf, out + i, m - i, sc, f, *acc);
  }
}

// The metrics kernel on AVX2 (CPUs without AVX-512 VBMI): the same scheme as the AVX-512
// one (magnitudes, values rescaled by 2^-e, FPU grid rounding, float partial sums over
// runs of 128 = 16 terms per lane folded into the double lanes of Metrics512, exact
// counts and max |d|, non-finite runs redone by encode_div_avx2), eight lanes at a time.
NL_TARGET_AVX2 inline __m256 round_grid8(__m256 ay, __m256 fmax, __m256i min_normal, __m256i exp_shift) {
  __m256 a = _mm256_min_ps(ay, fmax);
  __m256i ex = _mm256_max_epu32(_mm256_and_si256(_mm256_castps_si256(a), _mm256_set1_epi32(0x7f800000)), min_normal);
  __m256 m = _mm256_castsi256_ps(_mm256_add_epi32(ex, exp_shift));
  return _mm256_sub_ps(_mm256_add_ps(a, m), m);
}
NL_TARGET_AVX2 inline __m256d fold4(__m256d acc, __m128 v, __m256d w) { return _mm256_fmadd_pd(_mm256_cvtps_pd(v), w, acc); }

NL_TARGET_AVX2 void encode_metrics_avx2(const uint8_t* src, DType t, size_t i0, size_t m, float sc, Fp8Format f, uint8_t* out,
                                        Metrics512& st, QuantMetrics* acc) {
  const bool e4 = f == Fp8Format::E4M3;
  const int e = int((f32_bits(sc) >> 23) & 0xffu) - 126;  // sc in [2^(e-1), 2^e), normal (metrics512_ok)
  const __m256 s = _mm256_set1_ps(sc), vp = _mm256_set1_ps(bits_f32(uint32_t(127 - e) << 23));
  const __m256 sq = _mm256_set1_ps(bits_f32(f32_bits(sc) - (uint32_t(e) << 23)));
  const __m256 fmax = _mm256_set1_ps(fp8_max(f)), down = _mm256_set1_ps(e4 ? 0x1p-120f : 0x1p-112f);
  const __m256i min_normal = _mm256_set1_epi32(e4 ? 0x3c800000 : 0x38800000), exp_shift = _mm256_set1_epi32((e4 ? 20 : 21) << 23);
  const __m128i shift = _mm_cvtsi32_si128(e4 ? 20 : 21);
  const __m256 zero = _mm256_setzero_ps(), thr = _mm256_set1_ps(clip_threshold(f)), sign = _mm256_set1_ps(-0.0f);
  const __m256i b7f = _mm256_set1_epi8(0x7f), b1 = _mm256_set1_epi8(1), blim = _mm256_set1_epi8(e4 ? 8 : 4);
  double ds;
  const uint64_t dsb = uint64_t(1023 + e) << 52;
  std::memcpy(&ds, &dsb, 8);
  const __m256d vds = _mm256_set1_pd(ds), vds2 = _mm256_set1_pd(ds * ds);
  __m256d D[5][2];
  for (int j = 0; j < 5; j++) { D[j][0] = _mm256_load_pd(st.lanes[j]); D[j][1] = _mm256_load_pd(st.lanes[j] + 4); }
  __m256 fmabs = zero;
  uint64_t clipped_span = 0, magone = 0;
  size_t i = 0;
  while (i + 32 <= m) {
    const size_t run0 = i;
    __m256 sig = zero, noise = zero, dot = zero, qq = zero, sabs = zero, rmabs = zero;
    uint64_t zeros = 0, clipped = 0, magzero = 0, below = 0, mone = 0;
    for (int g = 0; g < 4 && i + 32 <= m; g++, i += 32) {
      __m256i c[4];
      for (int h = 0; h < 4; h++) {
        __m256 x = load8(src, t, i0 + i + 8 * h);
        __m256 ax = _mm256_andnot_ps(sign, x);
        __m256 ay = _mm256_div_ps(ax, s);
        __m256 r = round_grid8(ay, fmax, min_normal, exp_shift);
        __m256i mag = _mm256_srl_epi32(_mm256_castps_si256(_mm256_mul_ps(r, down)), shift);
        c[h] = _mm256_or_si256(mag, _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(x), 24), _mm256_set1_epi32(0x80)));
        __m256 q = _mm256_mul_ps(r, sq);
        __m256 xs = _mm256_mul_ps(ax, vp);
        __m256 d = _mm256_sub_ps(q, xs);
        __m256 ad = _mm256_andnot_ps(sign, d);
        sig = _mm256_fmadd_ps(xs, xs, sig);
        noise = _mm256_fmadd_ps(d, d, noise);
        dot = _mm256_fmadd_ps(xs, q, dot);
        qq = _mm256_fmadd_ps(q, q, qq);
        sabs = _mm256_add_ps(sabs, ad);
        rmabs = _mm256_max_ps(rmabs, ad);
        zeros += __builtin_popcount(_mm256_movemask_ps(_mm256_cmp_ps(ax, zero, _CMP_EQ_OQ)));
        clipped += __builtin_popcount(_mm256_movemask_ps(_mm256_cmp_ps(ay, thr, _CMP_GT_OQ)));
      }
      store32_codes(out + i, c[0], c[1], c[2], c[3]);
      __m256i mb = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(out + i)), b7f);
      magzero += __builtin_popcount(uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(mb, _mm256_setzero_si256()))));
      below += __builtin_popcount(uint32_t(_mm256_movemask_epi8(_mm256_cmpgt_epi8(blim, mb))));  // magnitudes 0 .. 7 (3)
      mone += __builtin_popcount(uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(mb, b1))));
    }
    __m256 chk = _mm256_add_ps(sig, qq);  // see the AVX-512 kernel: finite sig + qq clears the run
    if (_mm256_movemask_ps(_mm256_cmp_ps(chk, _mm256_set1_ps(FLT_MAX), _CMP_NLE_UQ))) {
      encode_div_avx2(src, t, i0 + run0, i - run0, sc, f, out + run0, acc);
      continue;
    }
    const __m256 sums[5] = {sig, noise, dot, qq, sabs};
    for (int j = 0; j < 5; j++) {
      __m256d w = j == 4 ? vds : vds2;
      D[j][0] = fold4(D[j][0], _mm256_castps256_ps128(sums[j]), w);
      D[j][1] = fold4(D[j][1], _mm256_extractf128_ps(sums[j], 1), w);
    }
    fmabs = _mm256_max_ps(fmabs, rmabs);
    st.count += i - run0; st.zeros += zeros; st.clipped += clipped;
    st.flushed_zero += magzero - zeros;
    st.subnormal += below - magzero;
    clipped_span += clipped; magone += mone;
  }
  for (int j = 0; j < 5; j++) { _mm256_store_pd(st.lanes[j], D[j][0]); _mm256_store_pd(st.lanes[j] + 4, D[j][1]); }
  // max |d| exactly: the AVX-512 kernel's argument.
  alignas(32) float fm8[8];
  _mm256_store_ps(fm8, fmabs);
  float fmf = 0;
  for (float v : fm8) fmf = std::max(fmf, v);
  double cur = 0;
  for (int j = 0; j < 8; j++) cur = std::max(cur, st.lanes[5][j]);
  double fm = double(fmf) * ds;
  if (clipped_span == 0 && magone == 0 && fmf >= 0x1p-100f) st.lanes[5][0] = std::max(st.lanes[5][0], fm);
  else if (i > 0 && fm * (1.0 + 0x1p-22) + 0x1p-149 * ds >= cur)
    st.lanes[5][0] = std::max(st.lanes[5][0], span_max_abs_exact(src, t, i0, i, sc, f, out));
  if (i < m) encode_div_avx2(src, t, i0 + i, m - i, sc, f, out + i, acc);
}

#endif

}  // namespace quant
}  // namespace nl
