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

namespace {

constexpr size_t kSpan = 2048;
constexpr size_t kGrainElems = size_t(1) << 16;

// The output scale grid (p's blocks over s).
size_t grid_cols(const StoredMatrix& s, const QuantParams& p) { return size_t(blocks_covering(s.cols, int64_t(p.block_cols))); }
size_t grid_rows(const StoredMatrix& s, const QuantParams& p) { return size_t(blocks_covering(s.rows, int64_t(p.block_rows))); }

// m values of row r from column c0, dequantised; F32 without scale is read in place.
const float* read_span(const StoredMatrix& s, size_t r, size_t c0, size_t m, float* buf) {
  return nl::read_span(s, r * size_t(s.cols) + c0, m, buf);
}

// Calls fn(t, begin, end) over [0, n) in chunks of `grain`, t = the thread's slot.
template <class Fn>
void for_chunks(size_t n, size_t grain, Fn&& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  size_t chunks = (n + grain - 1) / grain;
  std::atomic<size_t> next{0};
  parallel_threads([&](int t) {
    for (;;) {
      size_t c = next.fetch_add(1);
      if (c >= chunks) return;
      fn(t, c * grain, std::min(n, (c + 1) * grain));
    }
  });
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

NL_SIMD_CLONES void encode_span_e4m3(const float* x, size_t n, float s, uint8_t* out) {
  for (size_t i = 0; i < n; i++) out[i] = uint8_t(e4m3_sat(x[i] / s));
}
NL_SIMD_CLONES void encode_span_e5m2(const float* x, size_t n, float s, uint8_t* out) {
  for (size_t i = 0; i < n; i++) out[i] = uint8_t(e5m2_sat(x[i] / s));
}
inline void encode_span(Fp8Format f, const float* x, size_t n, float s, uint8_t* out) {
  if (f == Fp8Format::E4M3) encode_span_e4m3(x, n, s, out);
  else encode_span_e5m2(x, n, s, out);
}

// max |x| over finite values, and the count of non-finite ones; lane-parallel to vectorise.
NL_SIMD_CLONES float span_amax(const float* x, size_t n, uint32_t* nonfinite) {
  constexpr int L = 16;
  float am[L] = {};
  uint32_t nf[L] = {};
  size_t i = 0;
  for (; i + L <= n; i += L) {
    for (int j = 0; j < L; j++) {
      float a = std::fabs(x[i + j]);
      bool fin = a <= FLT_MAX;
      am[j] = std::max(am[j], fin ? a : 0.0f);
      nf[j] += !fin;
    }
  }
  for (; i < n; i++) {
    float a = std::fabs(x[i]);
    bool fin = a <= FLT_MAX;
    am[0] = std::max(am[0], fin ? a : 0.0f);
    nf[0] += !fin;
  }
  float r = 0;
  for (int j = 0; j < L; j++) { r = std::max(r, am[j]); *nonfinite += nf[j]; }
  return r;
}

inline bool is_subnormal_code(uint8_t mag, Fp8Format f) {
  return f == Fp8Format::E4M3 ? (mag & 0x78u) == 0 && (mag & 7u) != 0 : (mag & 0x7cu) == 0 && (mag & 3u) != 0;
}

// |x / s| beyond fmax (a hair of slack: amax / (amax / fmax) may round just above fmax).
inline float clip_threshold(Fp8Format f) { return fp8_max(f) * (1.0f + 1.0f / (1 << 20)); }

void span_metrics(const float* x, const uint8_t* c, size_t n, float s, Fp8Format f, QuantMetrics& a) {
  const float* table = fp8_decode_table(f);
  float thr = clip_threshold(f);
  for (size_t i = 0; i < n; i++) {
    float xi = x[i];
    if (!(std::fabs(xi) <= FLT_MAX)) continue;
    float q = table[c[i]] * s;
    double xd = xi, qd = q, d = qd - xd, ad = std::fabs(d);
    a.sig += xd * xd; a.noise += d * d; a.dot += xd * qd; a.qq += qd * qd;
    a.sum_abs += ad; a.max_abs = std::max(a.max_abs, ad);
    a.count++;
    a.zeros += xi == 0.0f;
    a.clipped += std::fabs(xi / s) > thr;
    uint8_t mag = c[i] & 0x7fu;
    if (xi != 0.0f && mag == 0) a.flushed_zero++;
    else if (is_subnormal_code(mag, f)) a.subnormal++;
  }
}

void merge(QuantMetrics& a, const QuantMetrics& b) {
  a.sig += b.sig; a.noise += b.noise; a.dot += b.dot; a.qq += b.qq; a.sum_abs += b.sum_abs;
  a.max_abs = std::max(a.max_abs, b.max_abs);
  a.count += b.count; a.zeros += b.zeros; a.clipped += b.clipped; a.flushed_zero += b.flushed_zero; a.subnormal += b.subnormal;
}

// The scale of a clipping value: clip / fmax in f32 (1 when the block is all zeros).
inline float scale_of(float clip, Fp8Format f) { return clip > 0.0f ? clip / fp8_max(f) : 1.0f; }

// Candidate clipping values of the search: ratio 1 first, down to min_ratio.
std::vector<float> search_scales(float amax, const QuantParams& p) {
  std::vector<float> out(std::max(1, p.search_steps));
  for (size_t k = 0; k < out.size(); k++) {
    double ratio = out.size() == 1 ? 1.0 : 1.0 - (1.0 - p.search_min_ratio) * double(k) / double(out.size() - 1);
    out[k] = scale_of(float(double(amax) * ratio), p.format);
  }
  return out;
}

// Linear-interpolated q-th percentile of v (torch.quantile's rule and rounding, in float32).
float percentile_of(std::vector<float>& v, double q, bool sort_all) {
  if (v.empty()) return 0.0f;
  float qf = float(q / 100.0);
  float pos = qf * float(v.size() - 1);
  size_t lo = size_t(std::floor(pos)), hi = std::min(v.size() - 1, size_t(std::ceil(pos)));
  float w = pos - float(lo);
  float a, b;
  if (sort_all) {
    std::sort(v.begin(), v.end());
    a = v[lo]; b = v[hi];
  } else {
    std::nth_element(v.begin(), v.begin() + lo, v.end());
    a = v[lo];
    b = hi == lo ? a : *std::min_element(v.begin() + lo + 1, v.end());
  }
  float diff = b - a;  // torch's lerp, fused multiply-add as its CPU kernel does
  return w < 0.5f ? std::fma(w, diff, a) : std::fma(-diff, 1.0f - w, b);
}

// Max finite |x| of each 64-value chunk, and the count of finite values (vectorised).
NL_SIMD_CLONES void chunk_max64(const float* x, size_t nchunks, float* mx, uint32_t* finite) {
  uint32_t fin = 0;
  for (size_t c = 0; c < nchunks; c++) {
    float am[16] = {};
    uint32_t nf[16] = {};
    for (int g = 0; g < 4; g++) {
      for (int j = 0; j < 16; j++) {
        float a = std::fabs(x[64 * c + 16 * g + j]);
        bool ok = a <= FLT_MAX;
        am[j] = std::max(am[j], ok ? a : 0.0f);
        nf[j] += ok;
      }
    }
    float r = 0;
    for (int j = 0; j < 16; j++) { r = std::max(r, am[j]); fin += nf[j]; }
    mx[c] = r;
  }
  *finite += fin;
}

// The largest values of a block, for a high percentile without keeping (and selecting
// in) a copy of the whole block: every |x| at or above a threshold is kept; when the
// buffer holds 2k + 64 values it is cut back to the k largest (ties kept) and the
// threshold raised to the k-th largest. What stays is always every value of the block
// at or above the threshold, i.e. the top m >= min(k, n) of the multiset, so the
// percentile's two order statistics are read from it when they lie in that top
// (rank_need() sizes k so that they do); otherwise the caller takes the full path.
struct TopValues {
  std::vector<float> v;
  float thr = 0.0f;    // keep a >= thr (0 keeps everything, zeros included)
  size_t k = 0;
  uint64_t finite = 0;
  void reset(size_t keep) { v.clear(); thr = 0.0f; k = keep; finite = 0; }
  void push(const float* x, size_t m) {  // m <= kSpan
    float mx[kSpan / 64];
    size_t nc = m / 64;
    uint32_t fin = 0;
    chunk_max64(x, nc, mx, &fin);  // most chunks hold nothing at or above thr: skipped
    finite += fin;
    for (size_t c = 0; c < nc; c++)
      if (mx[c] >= thr) add(x + 64 * c, 64, false);
    add(x + 64 * nc, m - 64 * nc, true);
  }
  void add(const float* x, size_t m, bool count) {
    for (size_t i = 0; i < m; i++) {
      float a = std::fabs(x[i]);
      if (!(a <= FLT_MAX)) continue;
      finite += count;
      if (a >= thr) v.push_back(a);
    }
    if (v.size() >= 2 * k + 64) prune();
  }
  void prune() {
    if (v.size() <= k) return;
    std::nth_element(v.begin(), v.begin() + (v.size() - k), v.end());
    thr = v[v.size() - k];
    v.erase(std::remove_if(v.begin(), v.end(), [&](float a) { return a < thr; }), v.end());
  }
  void merge(const TopValues& o) {
    v.insert(v.end(), o.v.begin(), o.v.end());
    finite += o.finite;
    // the union holds every value >= max of the two thresholds
    thr = std::max(thr, o.thr);
    v.erase(std::remove_if(v.begin(), v.end(), [&](float a) { return a < thr; }), v.end());
  }
};

// How many of the largest values the q-th percentile of n values reads (with slack for
// fewer finite values than n), or 0 when that is most of the block (take the full path).
size_t rank_need(size_t n, double q) {
  if (n < 2) return 0;
  float pos = float(q / 100.0) * float(n - 1);
  size_t lo = size_t(std::floor(pos));
  size_t need = n - std::min(n, lo) + 4;
  return need * 4 > n ? 0 : need;
}

// percentile_of (same float arithmetic) from a TopValues holding the top of `finite` values;
// false when the order statistics it needs are below what it holds.
bool percentile_of_top(TopValues& t, double q, float* out) {
  size_t n = t.finite;
  if (n == 0) { *out = 0.0f; return true; }
  float qf = float(q / 100.0);
  float pos = qf * float(n - 1);
  size_t lo = size_t(std::floor(pos)), hi = std::min(n - 1, size_t(std::ceil(pos)));
  float w = pos - float(lo);
  if (t.v.size() > n) return false;
  size_t off = n - t.v.size();  // t.v holds ranks [off, n) once sorted
  if (lo < off) return false;
  std::sort(t.v.begin(), t.v.end());
  float a = t.v[lo - off], b = t.v[hi - off];
  float diff = b - a;
  *out = w < 0.5f ? std::fma(w, diff, a) : std::fma(-diff, 1.0f - w, b);
  return true;
}

#if NL_X86
// The fused path's inner loops on AVX2, reading F32/BF16/F16 straight from the source:
// amax, then y = x / s, the saturating encoder, and (optionally) the error sums in double
// lanes, in one sweep over data that is still in cache.
bool direct_source(const StoredMatrix& s) {
  return !s.scale && cpu_has_avx2() && (s.dtype == DType::F32 || s.dtype == DType::BF16 || s.dtype == DType::F16);
}

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

#if NL_X86
// max |x| of a span read straight from the source (direct_source), the best SIMD level.
float amax_direct(const StoredMatrix& s, size_t i0, size_t m, uint32_t* nonfinite) {
  return cpu_has_avx512vbmi() ? amax_avx512(s.data, s.dtype, i0, m, nonfinite) : amax_avx2(s.data, s.dtype, i0, m, nonfinite);
}
#endif

// Per-block amax (finite values), multi-threaded; adds the non-finite count.
std::vector<float> block_amax(const StoredMatrix& s, const QuantParams& p, uint64_t* nonfinite) {
  size_t gc = grid_cols(s, p), nb = grid_rows(s, p) * gc;
  int T = num_threads();
  std::vector<std::vector<float>> local(T, std::vector<float>(nb, 0.0f));
  std::vector<uint64_t> nf(T * 8, 0);
  for_chunks(s.rows, std::max<size_t>(1, kGrainElems / std::max<size_t>(1, size_t(s.cols))), [&](int t, size_t rb, size_t re) {
    alignas(64) float buf[kSpan];
    uint32_t bad = 0;
    float* am = local[t].data();
    for (size_t r = rb; r < re; r++) {
      float* row_am = am + (r / p.block_rows) * gc;
      for (size_t c0 = 0; c0 < size_t(s.cols);) {
        size_t m = std::min({kSpan, size_t(s.cols) - c0, p.block_cols - c0 % p.block_cols});
#if NL_X86
        float v = direct_source(s) ? amax_direct(s, r * size_t(s.cols) + c0, m, &bad) : span_amax(read_span(s, r, c0, m, buf), m, &bad);
#else
        float v = span_amax(read_span(s, r, c0, m, buf), m, &bad);
#endif
        float& slot = row_am[c0 / p.block_cols];
        slot = std::max(slot, v);
        c0 += m;
      }
    }
    nf[t * 8] += bad;
  });
  std::vector<float> out(nb, 0.0f);
  for (int t = 0; t < T; t++) {
    for (size_t b = 0; b < nb; b++) out[b] = std::max(out[b], local[t][b]);
    *nonfinite += nf[t * 8];
  }
  return out;
}

// Visits every span of block b: fn(values, count).
template <class Fn>
void for_block_spans(const StoredMatrix& s, const QuantParams& p, size_t b, float* buf, Fn&& fn) {
  size_t gc = grid_cols(s, p);
  size_t r0 = (b / gc) * p.block_rows, r1 = std::min(size_t(s.rows), r0 + p.block_rows);
  size_t c0 = (b % gc) * p.block_cols, c1 = std::min(size_t(s.cols), c0 + p.block_cols);
  for (size_t r = r0; r < r1; r++) {
    for (size_t c = c0; c < c1;) {
      size_t m = std::min(kSpan, c1 - c);
      fn(read_span(s, r, c, m, buf), m);
      c += m;
    }
  }
}

// Sum of squared errors of each candidate scale over one span.
void candidate_errors(const float* x, size_t m, const std::vector<float>& scales, Fp8Format f, double* err, uint8_t* codes) {
#if NL_X86
  if (cpu_has_avx512vbmi()) return candidate_errors_avx512(x, m, scales, f, err);
#endif
  const float* table = fp8_decode_table(f);
  for (size_t k = 0; k < scales.size(); k++) {
    float sc = scales[k];
    encode_span(f, x, m, sc, codes);
    double e = 0;
    for (size_t i = 0; i < m; i++) {
      if (!(std::fabs(x[i]) <= FLT_MAX)) continue;
      double d = double(table[codes[i]] * sc) - double(x[i]);
      e += d * d;
    }
    err[k] += e;
  }
}

size_t argmin_first(const double* err, size_t n) {
  size_t best = 0;
  for (size_t k = 1; k < n; k++) if (err[k] < err[best]) best = k;
  return best;
}

void choose_scales(const StoredMatrix& s, const QuantParams& p, const std::vector<float>& amax, float* scales) {
  size_t nb = amax.size();
  int T = num_threads();
  if (p.mode == ScaleMode::Amax) {
    for (size_t b = 0; b < nb; b++) scales[b] = scale_of(amax[b], p.format);
  } else if (p.mode == ScaleMode::Percentile) {
    // The full path: a copy of the block's finite |x|, nth_element (low percentiles, or
    // when the top did not reach far enough).
    auto full = [&](size_t b, float* buf) {
      std::vector<float> v;
      for_block_spans(s, p, b, buf, [&](const float* x, size_t m) {
        for (size_t i = 0; i < m; i++) { float a = std::fabs(x[i]); if (a <= FLT_MAX) v.push_back(a); }
      });
      scales[b] = scale_of(percentile_of(v, p.percentile, false), p.format);
    };
    size_t gc = grid_cols(s, p);
    auto block_elems = [&](size_t b) {
      size_t r0 = (b / gc) * p.block_rows, c0 = (b % gc) * p.block_cols;
      return (std::min(size_t(s.rows), r0 + p.block_rows) - r0) * (std::min(size_t(s.cols), c0 + p.block_cols) - c0);
    };
    if (nb >= size_t(4 * T)) {  // many blocks: a block per work item
      for_chunks(nb, 1, [&](int, size_t bb, size_t be) {
        alignas(64) float buf[kSpan];
        TopValues top;
        for (size_t b = bb; b < be; b++) {
          size_t need = rank_need(block_elems(b), p.percentile);
          if (need == 0) { full(b, buf); continue; }
          top.reset(need);
          for_block_spans(s, p, b, buf, [&](const float* x, size_t m) { top.push(x, m); });
          float clip;
          if (percentile_of_top(top, p.percentile, &clip)) scales[b] = scale_of(clip, p.format);
          else full(b, buf);
        }
      });
    } else {  // few big blocks: rows split across threads, the tops merged per block
      std::vector<std::vector<TopValues>> tops(T, std::vector<TopValues>(nb));
      std::vector<size_t> need(nb);
      for (size_t b = 0; b < nb; b++) {
        need[b] = rank_need(block_elems(b), p.percentile);
        for (int t = 0; t < T; t++) tops[t][b].reset(need[b] ? need[b] : SIZE_MAX / 4);
      }
      for_chunks(s.rows, std::max<size_t>(1, kGrainElems / std::max<size_t>(1, size_t(s.cols))), [&](int t, size_t rb, size_t re) {
        alignas(64) float buf[kSpan];
        for (size_t r = rb; r < re; r++) {
          for (size_t c0 = 0; c0 < size_t(s.cols);) {
            size_t m = std::min({kSpan, size_t(s.cols) - c0, p.block_cols - c0 % p.block_cols});
            tops[t][(r / p.block_rows) * gc + c0 / p.block_cols].push(read_span(s, r, c0, m, buf), m);
            c0 += m;
          }
        }
      });
      for_chunks(nb, 1, [&](int, size_t bb, size_t be) {
        alignas(64) float buf[kSpan];
        for (size_t b = bb; b < be; b++) {
          TopValues& top = tops[0][b];
          for (int t = 1; t < T; t++) { top.merge(tops[t][b]); std::vector<float>().swap(tops[t][b].v); }
          float clip;
          if (percentile_of_top(top, p.percentile, &clip)) scales[b] = scale_of(clip, p.format);
          else full(b, buf);
        }
      });
    }
  } else if (p.mode == ScaleMode::Search) {
    size_t steps = size_t(std::max(1, p.search_steps));
    if (nb >= size_t(4 * T)) {  // many blocks: a block per work item
      for_chunks(nb, 1, [&](int, size_t bb, size_t be) {
        alignas(64) float buf[kSpan];
        alignas(64) uint8_t codes[kSpan];
        std::vector<double> err(steps);
        for (size_t b = bb; b < be; b++) {
          std::vector<float> cand = search_scales(amax[b], p);
          std::fill(err.begin(), err.end(), 0.0);
          for_block_spans(s, p, b, buf, [&](const float* x, size_t m) { candidate_errors(x, m, cand, p.format, err.data(), codes); });
          scales[b] = cand[argmin_first(err.data(), steps)];
        }
      });
    } else {  // few big blocks: split rows across threads, per-thread error tables
      size_t gc = grid_cols(s, p);
      std::vector<std::vector<float>> cand(nb);
      for (size_t b = 0; b < nb; b++) cand[b] = search_scales(amax[b], p);
      std::vector<std::vector<double>> err(T, std::vector<double>(nb * steps, 0.0));
      for_chunks(s.rows, std::max<size_t>(1, kGrainElems / std::max<size_t>(1, size_t(s.cols))), [&](int t, size_t rb, size_t re) {
        alignas(64) float buf[kSpan];
        alignas(64) uint8_t codes[kSpan];
        for (size_t r = rb; r < re; r++) {
          for (size_t c0 = 0; c0 < size_t(s.cols);) {
            size_t m = std::min({kSpan, size_t(s.cols) - c0, p.block_cols - c0 % p.block_cols});
            size_t b = (r / p.block_rows) * gc + c0 / p.block_cols;
            candidate_errors(read_span(s, r, c0, m, buf), m, cand[b], p.format, err[t].data() + b * steps, codes);
            c0 += m;
          }
        }
      });
      for (size_t b = 0; b < nb; b++) {
        std::vector<double> total(steps, 0.0);
        for (int t = 0; t < T; t++) for (size_t k = 0; k < steps; k++) total[k] += err[t][b * steps + k];
        scales[b] = cand[b][argmin_first(total.data(), steps)];
      }
    }
  }
}

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

void check_params(const StoredMatrix& s, const QuantParams& p) {
  NL_CHECK(p.block_rows > 0 && p.block_cols > 0, "quantize: block sizes must be positive");
  NL_CHECK(p.mode != ScaleMode::Percentile || (p.percentile > 0 && p.percentile <= 100), "quantize: percentile must be in (0, 100]");
  NL_CHECK(p.mode != ScaleMode::Search || (p.search_steps >= 1 && p.search_min_ratio > 0 && p.search_min_ratio <= 1),
           "quantize: search needs steps >= 1 and min ratio in (0, 1]");
  (void)s;
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
    for_chunks(bands, std::max<size_t>(1, kGrainElems / band_elems), [&](int t, size_t bb, size_t be) {
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
    for_chunks(s.rows, std::max<size_t>(1, kGrainElems / std::max<size_t>(1, size_t(s.cols))), [&](int t, size_t rb, size_t re) {
      alignas(64) float buf[kSpan];
      encode_rows(s, p, scales, codes, rb, re, p.metrics ? &acc[t].m : nullptr, buf);
    });
  }
  for (auto& a : acc) { merge(res.m, a.m); res.nonfinite += a.nonfinite; }
  return res;
}

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
