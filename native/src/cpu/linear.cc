// Linear layers y (T, rows) = x (T, cols) · Wᵀ over weights in their stored dtype, and
// embedding lookup. Two fast paths, both converting weights to fp32 on the fly:
//  - few tokens (decode): dot products of 4 weight rows × up to 4 tokens, weights
//    converted in registers; memory-bound, so this streams each weight byte once.
//  - many tokens (prefill): a register-blocked GEMM. A panel of 12 weight rows × KC
//    columns is converted to fp32 once into a small L1/L2 buffer and reused across every
//    token; tokens are packed 32 to a block, transposed (k-major), so the microkernel
//    keeps 12 × 32 outputs in 24 vector registers and does one broadcast-FMA per weight.
// Threads split the output rows. The reference is the plain triple loop in fp64.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "backend.h"
#include "cpu/fp8_codec.h"
#include "cpu/kernels.h"
#include "simd.h"
#include "thread_pool.h"

namespace nl {

using namespace simd;

void check_weight(const StoredMatrix& w) {
  NL_CHECK(w.data && w.rows > 0 && w.cols > 0, "empty weight");
  NL_CHECK(w.dtype == DType::F32 || w.dtype == DType::BF16 || w.dtype == DType::F16 || w.dtype == DType::F8_E4M3 ||
               w.dtype == DType::F8_E5M2,
           "weights must be F32, BF16, F16, F8_E4M3 or F8_E5M2");
  NL_CHECK(!w.scale || (w.block_rows > 0 && w.block_cols > 0), "scale block sizes must be positive");
}

// ---------------------------------------------------------------------------------------
// Reference: y[t, r] = Σ_c x[t, c] · w(r, c) + bias[r], accumulated in fp64.
void linear_reference(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y) {
  check_weight(w);
  for (int64_t t = 0; t < T; t++) {
    for (int64_t r = 0; r < w.rows; r++) {
      double sum = bias ? bias[r] : 0.0;
      for (int64_t c = 0; c < w.cols; c++) {
        double wv = double(element_f32(w.data, w.dtype, r * w.cols + c)) * w.scale_at(r, c);
        sum += double(x[t * w.cols + c]) * wv;
      }
      y[t * w.rows + r] = float(sum);
    }
  }
}

void embedding_reference(const StoredMatrix& e, const int32_t* ids, int64_t T, float* out) {
  for (int64_t t = 0; t < T; t++) {
    NL_CHECK(ids[t] >= 0 && ids[t] < e.rows, "token id " + std::to_string(ids[t]) + " outside the vocabulary [0, " + std::to_string(e.rows) + ")");
    for (int64_t c = 0; c < e.cols; c++) out[t * e.cols + c] = element_f32(e.data, e.dtype, ids[t] * e.cols + c) * e.scale_at(ids[t], c);
  }
}

// ---------------------------------------------------------------------------------------
namespace {

// Software prefetch for the few-token kernels. A task's rows are one contiguous run of weight
// bytes, read as MR interleaved row streams. Each 64-byte load hints two places:
//  - near, into L1: 1 KiB ahead in its own row, or, for rows under 2 KiB (where that would
//    land on a row this block is reading anyway), the same place in the next 4-row block;
//  - far, into L2: 64 KiB ahead in the task's run (at most a quarter of the task, and never
//    past its end, so a small matrix does not fetch what another thread reads). This keeps
//    enough lines in flight for memory to stream while the core converts and multiplies;
//    without it the two add up instead of overlapping.
// Measured with bench/linear.ts (alternating builds), 2 threads: on Nano-9B's shapes ~1.3x
// (BF16 and FP8) over one L1 hint a 4-row block ahead; on the 45M bench shapes unchanged
// (0.97-1.03x).
struct TaskPrefetch {
  static constexpr int64_t kNearInRow = 1024, kShortRow = 2048, kFarMax = 65536;
  const uint8_t* end;  // first byte after the task's rows
  int64_t near, far;
  TaskPrefetch(const StoredMatrix& w, int64_t r0, int64_t r1) {
    const int64_t row_bytes = w.cols * int64_t(dtype_size(w.dtype));
    end = w.data + r1 * row_bytes;
    near = row_bytes >= kShortRow ? kNearInRow : 4 * row_bytes;
    far = std::min(kFarMax, (r1 - r0) * row_bytes / 4);
  }
  __attribute__((always_inline)) void operator()(const uint8_t* p) const {
    __builtin_prefetch(p + near, 0, 3);                    // prefetcht0
    if (p + far < end) __builtin_prefetch(p + far, 0, 2);  // prefetcht1
  }
};

// How a scale applies inside one row: none, one factor for the whole row, or one per
// 16-aligned column block (multiplied into each converted vector).
enum RowScaling { kNoScale, kRowScale, kColBlockScale, kGeneric };

RowScaling row_scaling(const StoredMatrix& w) {
  if (!w.scale) return kNoScale;
  if (w.block_cols >= w.cols) return kRowScale;
  if (w.block_cols % 16 == 0) return kColBlockScale;
  return kGeneric;
}

// Converts weight row r, columns [c0, c0+n), to fp32 with its scale applied.
template <DType D>
NL_INLINE void convert_row(const StoredMatrix& w, int64_t r, int64_t c0, int64_t n, float* out) {
  const int64_t base = r * w.cols + c0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) store(out + i, cvt16<D>(w.data, base + i));
  for (; i < n; i++) out[i] = element_f32(w.data, D, base + i);
  if (w.scale) {
    const float* srow = w.scale + (r / w.block_rows) * w.scale_cols();
    if (w.block_cols >= w.cols) {
      v16f s = splat(srow[0]);
      int64_t j = 0;
      for (; j + 16 <= n; j += 16) store(out + j, load(out + j) * s);
      for (; j < n; j++) out[j] *= srow[0];
    } else {
      for (int64_t j = 0; j < n; j++) out[j] *= srow[(c0 + j) / w.block_cols];
    }
  }
}

// The end of a block of dot products: sum the lanes, add the columns [k0, K) the vector loop
// left, then the row scale and the bias.
template <DType D, int MR, int NT>
NL_INLINE void finish_rows(v16f (&acc)[MR][NT], const float* const (&srow)[MR], const float* x, int64_t ldx,
                           const StoredMatrix& w, RowScaling mode, int64_t r, int64_t k0, const float* bias, float* y,
                           int64_t ldy) {
  const int64_t K = w.cols;
  for (int i = 0; i < MR; i++) {
    for (int t = 0; t < NT; t++) {
      float s = hsum(acc[i][t]);
      for (int64_t k = k0; k < K; k++) {
        float wk = element_f32(w.data, D, (r + i) * K + k);
        if (mode == kColBlockScale) wk *= srow[i][k / w.block_cols];
        s += wk * x[t * ldx + k];
      }
      if (mode == kRowScale) s *= srow[i][0];
      y[t * ldy + r + i] = s + (bias ? bias[r + i] : 0.0f);
    }
  }
}

// Few tokens: MR rows × NT tokens of dot products, weights converted in registers.
template <DType D, int MR, int NT>
NL_INLINE void dot_block(const float* x, int64_t ldx, const StoredMatrix& w, RowScaling mode, int64_t r, const float* bias,
                         float* y, int64_t ldy, const TaskPrefetch& pf) {
  const int64_t K = w.cols, K16 = K & ~int64_t(15);
  v16f acc[MR][NT];
  for (int i = 0; i < MR; i++)
    for (int t = 0; t < NT; t++) acc[i][t] = v16f{};
  const float* srow[MR];
  const int64_t sc = w.scale_cols();
  for (int i = 0; i < MR; i++) srow[i] = w.scale ? w.scale + ((r + i) / w.block_rows) * sc : nullptr;
  const int64_t esize = int64_t(dtype_size(D));
  for (int64_t k = 0; k < K16; k += 16) {
    v16f wv[MR];
    for (int i = 0; i < MR; i++) {
      if ((k * esize) % 64 == 0) pf(w.data + ((r + i) * K + k) * esize);
      wv[i] = cvt16<D>(w.data, (r + i) * K + k);
      if (mode == kColBlockScale) wv[i] *= srow[i][k / w.block_cols];
    }
    for (int t = 0; t < NT; t++) {
      v16f xv = load(x + t * ldx + k);
      for (int i = 0; i < MR; i++) acc[i][t] += wv[i] * xv;
    }
  }
  finish_rows<D, MR, NT>(acc, srow, x, ldx, w, mode, r, K16, bias, y, ldy);
}

// FP8, few tokens: 64 codes are loaded as 16 words; lane j of shift s holds code 4j+s, so
// x is pre-permuted the same way (xq, blocks of 64) and no byte widening is needed.
template <DType D, int MR, int NT>
NL_INLINE void dot_block_fp8(const float* xq, const float* x, const StoredMatrix& w, RowScaling mode, int64_t r,
                             const float* bias, float* y, const TaskPrefetch& pf) {
  const int64_t K = w.cols, K64 = K & ~int64_t(63);
  v16f acc[MR][NT];
  for (int i = 0; i < MR; i++)
    for (int t = 0; t < NT; t++) acc[i][t] = v16f{};
  const float* srow[MR];
  for (int i = 0; i < MR; i++) srow[i] = w.scale ? w.scale + ((r + i) / w.block_rows) * w.scale_cols() : nullptr;
  for (int64_t k = 0; k < K64; k += 64) {
    v16u words[MR];
    for (int i = 0; i < MR; i++) {
      pf(w.data + (r + i) * K + k);
      std::memcpy(&words[i], w.data + (r + i) * K + k, 64);
    }
#pragma GCC unroll 4
    for (int sft = 0; sft < 4; sft++) {
      v16f wv[MR];
      for (int i = 0; i < MR; i++) {
        wv[i] = fp8_low_byte<D>(words[i] >> (8 * sft));
        if (mode == kColBlockScale) wv[i] *= srow[i][k / w.block_cols];
      }
      for (int t = 0; t < NT; t++) {
        v16f xv = load(xq + t * K + k + 16 * sft);
        for (int i = 0; i < MR; i++) acc[i][t] += wv[i] * xv;
      }
    }
  }
  finish_rows<D, MR, NT>(acc, srow, x, K, w, mode, r, K64, bias, y, w.rows);
}

// Few tokens: kernel(NT, xq_t, x_t, y_t, rows b..e) over groups of up to four tokens (NT a
// compile-time count), output rows split across threads.
template <class Kernel>
void over_token_groups(const float* x, const float* xq, int64_t T, int64_t K, int64_t rows, int64_t grain, float* y,
                       const Kernel& kernel) {
  for (int64_t t0 = 0; t0 < T; t0 += 4) {
    const int64_t nt = std::min<int64_t>(4, T - t0);
    const float *xt = x + t0 * K, *xqt = xq + t0 * K;
    float* yt = y + t0 * rows;
    parallel_for(size_t(rows), size_t(grain), [&](size_t b, size_t e) {
      switch (nt) {
        case 1: kernel(std::integral_constant<int, 1>{}, xqt, xt, yt, b, e); break;
        case 2: kernel(std::integral_constant<int, 2>{}, xqt, xt, yt, b, e); break;
        case 3: kernel(std::integral_constant<int, 3>{}, xqt, xt, yt, b, e); break;
        default: kernel(std::integral_constant<int, 4>{}, xqt, xt, yt, b, e); break;
      }
    });
  }
}

#if NL_X86
// Few tokens on AVX-512: 64 weight bytes per row per step become E/16 fp32 vectors with
// unpacks against zero (a BF16 is the top half of its fp32), so a step costs a handful of
// shuffles, not per-element bit arithmetic. FP8: every E4M3/E5M2 value is exact in BF16,
// so two 128-entry byte tables (vpermt2b on the code's low 7 bits) give the high and low
// byte of its BF16 (NaN/Inf codes map to BF16 NaN/Inf), the sign bit is OR'ed in, and two
// rounds of unpacks make fp32: ~10 instructions per 64 codes, where the portable bit
// arithmetic needs ~9 per 16. Unpacks work within 128-bit lanes, so lane 4L+j of vector q
// holds element (E/4)L + 4q + j of the step; x is permuted to match once per call (xq).
struct Bf16Tables { alignas(64) uint8_t lo[128], hi[128]; };

const Bf16Tables& fp8_bf16_tables(DType d) {
  static const auto make = [](DType t) {
    Bf16Tables b;
    for (int c = 0; c < 128; c++) {
      float v = element_f32(reinterpret_cast<const uint8_t*>(&c), t, 0);
      uint32_t u;
      std::memcpy(&u, &v, 4);
      if (v != v) u = 0x7fc00000u;  // a quiet NaN that survives the truncation to BF16
      b.lo[c] = uint8_t(u >> 16);
      b.hi[c] = uint8_t(u >> 24);
    }
    return b;
  };
  static const Bf16Tables e4m3 = make(DType::F8_E4M3), e5m2 = make(DType::F8_E5M2);
  return d == DType::F8_E4M3 ? e4m3 : e5m2;
}

// x[t] (K floats) in the lane order above for steps of E elements; the tail as is.
void permute_lanes(const float* x, int64_t T, int64_t K, int64_t E, float* xq) {
  const int64_t KE = K / E * E, per_lane = E / 4;
  for (int64_t t = 0; t < T; t++) {
    const float* s = x + t * K;
    float* d = xq + t * K;
    for (int64_t k = 0; k < KE; k += E)
      for (int64_t q = 0; q < E / 16; q++)
        for (int L = 0; L < 4; L++)
          for (int j = 0; j < 4; j++) d[k + 16 * q + 4 * L + j] = s[k + per_lane * L + 4 * q + j];
    for (int64_t k = KE; k < K; k++) d[k] = s[k];
  }
}

struct Fp8Conv {
  static constexpr int E = 64;  // elements per 64-byte step
  __m512i lo0, lo1, hi0, hi1, sgn, zero;
  NL_TARGET_AVX512 explicit Fp8Conv(DType d) {
    const Bf16Tables& tb = fp8_bf16_tables(d);
    lo0 = _mm512_load_si512(tb.lo); lo1 = _mm512_load_si512(tb.lo + 64);
    hi0 = _mm512_load_si512(tb.hi); hi1 = _mm512_load_si512(tb.hi + 64);
    sgn = _mm512_set1_epi8(char(0x80)); zero = _mm512_setzero_si512();
  }
  NL_TARGET_AVX512 __attribute__((always_inline)) void operator()(const uint8_t* p, __m512* f) const {
    const __m512i c = _mm512_loadu_si512(p);
    const __m512i lo = _mm512_permutex2var_epi8(lo0, c, lo1);
    const __m512i hi = _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(hi0, c, hi1), c, sgn, 0xF8);  // hi | (c & 0x80)
    const __m512i u0 = _mm512_unpacklo_epi8(lo, hi), u1 = _mm512_unpackhi_epi8(lo, hi);
    f[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, u0));
    f[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, u0));
    f[2] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, u1));
    f[3] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, u1));
  }
};

struct Bf16Conv {
  static constexpr int E = 32;
  __m512i zero;
  NL_TARGET_AVX512 explicit Bf16Conv(DType) { zero = _mm512_setzero_si512(); }
  NL_TARGET_AVX512 __attribute__((always_inline)) void operator()(const uint8_t* p, __m512* f) const {
    const __m512i h = _mm512_loadu_si512(p);
    f[0] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(zero, h));
    f[1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(zero, h));
  }
};

template <class Conv, int MR, int NT>
NL_TARGET_AVX512 NL_INLINE void dot_block_avx512(const Conv& cv, const float* xq, const float* x, const StoredMatrix& w,
                                                 RowScaling mode, int64_t r, const float* bias, float* y,
                                                 const TaskPrefetch& pf) {
  constexpr int E = Conv::E, Q = E / 16;
  constexpr int A = NT == 1 ? 2 : 1;  // accumulator sets: two for one token, so FMA chains are half as long
  const int64_t K = w.cols, KE = K / E * E, esize = 64 / E;
  __m512 acc[A][MR][NT];
  for (int a = 0; a < A; a++)
    for (int i = 0; i < MR; i++)
      for (int t = 0; t < NT; t++) acc[a][i][t] = _mm512_setzero_ps();
  const float* srow[MR];
  for (int i = 0; i < MR; i++) srow[i] = w.scale ? w.scale + ((r + i) / w.block_rows) * w.scale_cols() : nullptr;
  const uint8_t* base = w.data + r * K * esize;
  for (int64_t k = 0; k < KE; k += E) {
    for (int i = 0; i < MR; i++) {
      __m512 f[Q];
      const uint8_t* p = base + (i * K + k) * esize;
      pf(p);
      cv(p, f);
      if (mode == kColBlockScale) {
        const __m512 s = _mm512_set1_ps(srow[i][k / w.block_cols]);
        for (int q = 0; q < Q; q++) f[q] = _mm512_mul_ps(f[q], s);
      }
      for (int t = 0; t < NT; t++)
        for (int q = 0; q < Q; q++) acc[q % A][i][t] = _mm512_fmadd_ps(f[q], _mm512_loadu_ps(xq + t * K + k + 16 * q), acc[q % A][i][t]);
    }
  }
  for (int i = 0; i < MR; i++) {
    for (int t = 0; t < NT; t++) {
      __m512 sum = acc[0][i][t];
      if constexpr (A == 2) sum = _mm512_add_ps(sum, acc[A - 1][i][t]);
      float s = hsum(v16f(sum));
      for (int64_t k = KE; k < K; k++) {
        float wk = element_f32(w.data, w.dtype, (r + i) * K + k);
        if (mode == kColBlockScale) wk *= srow[i][k / w.block_cols];
        s += wk * x[t * K + k];
      }
      if (mode == kRowScale) s *= srow[i][0];
      y[t * w.rows + r + i] = s + (bias ? bias[r + i] : 0.0f);
    }
  }
}

template <class Conv, int NT>
NL_TARGET_AVX512 void linear_few_avx512(const float* xq, const float* x, const StoredMatrix& w, const float* bias, float* y,
                                        int64_t r0, int64_t r1) {
  const Conv cv(w.dtype);
  const TaskPrefetch pf(w, r0, r1);
  RowScaling mode = row_scaling(w);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) dot_block_avx512<Conv, 4, NT>(cv, xq, x, w, mode, r, bias, y, pf);
  for (; r < r1; r++) dot_block_avx512<Conv, 1, NT>(cv, xq, x, w, mode, r, bias, y, pf);
}

// Few tokens through the AVX-512 path; false when this CPU or weight layout cannot take it.
template <class Conv>
bool linear_few_avx512_all(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y, int64_t grain) {
  if (!cpu_has_avx512vbmi() || (row_scaling(w) == kColBlockScale && w.block_cols % Conv::E != 0)) return false;
  const int64_t K = w.cols, rows = w.rows;
  std::vector<float> xq(size_t(T * K));
  permute_lanes(x, T, K, Conv::E, xq.data());
  over_token_groups(x, xq.data(), T, K, rows, grain, y, [&](auto nt, const float* xqt, const float* xt, float* yt, size_t b, size_t e) {
    linear_few_avx512<Conv, decltype(nt)::value>(xqt, xt, w, bias, yt, b, e);
  });
  return true;
}
#endif

template <DType D, int NT>
NL_KERNEL void linear_few_fp8(const float* xq, const float* x, const StoredMatrix& w, const float* bias, float* y,
                              int64_t r0, int64_t r1) {
  const TaskPrefetch pf(w, r0, r1);
  RowScaling mode = row_scaling(w);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) dot_block_fp8<D, 4, NT>(xq, x, w, mode, r, bias, y, pf);
  for (; r < r1; r++) dot_block_fp8<D, 1, NT>(xq, x, w, mode, r, bias, y, pf);
}

template <DType D, int NT>
NL_KERNEL void linear_few(const float* x, const StoredMatrix& w, const float* bias, float* y, int64_t r0, int64_t r1) {
  const TaskPrefetch pf(w, r0, r1);
  RowScaling mode = row_scaling(w);
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) dot_block<D, 4, NT>(x, w.cols, w, mode, r, bias, y, w.rows, pf);
  for (; r < r1; r++) dot_block<D, 1, NT>(x, w.cols, w, mode, r, bias, y, w.rows, pf);
}

constexpr int MR = 12;   // weight rows per microkernel
constexpr int NB = 32;   // tokens per packed block (2 vectors)
constexpr int64_t KC = 512;  // columns per converted tile

// acc (MR, NB) += wt (MR, kc; row stride KC) · xp (kc, NB)
NL_INLINE void micro(const float* wt, const float* xp, int64_t kc, float* c) {
  v16f a[MR][2];
  for (int i = 0; i < MR; i++) { a[i][0] = load(c + i * NB); a[i][1] = load(c + i * NB + 16); }
  for (int64_t k = 0; k < kc; k++) {
    v16f x0 = load(xp + k * NB), x1 = load(xp + k * NB + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
      v16f wv = splat(wt[i * KC + k]);
      a[i][0] += wv * x0;
      a[i][1] += wv * x1;
    }
  }
  for (int i = 0; i < MR; i++) { store(c + i * NB, a[i][0]); store(c + i * NB + 16, a[i][1]); }
}

template <DType D>
NL_KERNEL void gemm_panels(const float* xp, int64_t T, const StoredMatrix& w, const float* bias, float* y, int64_t p0,
                           int64_t p1) {
  const int64_t K = w.cols, nblocks = (T + NB - 1) / NB;
  std::vector<float> wt(MR * KC), cbuf(size_t(nblocks) * MR * NB);
  for (int64_t p = p0; p < p1; p++) {
    const int64_t r0 = p * MR, mr = std::min<int64_t>(MR, w.rows - r0);
    std::fill(cbuf.begin(), cbuf.end(), 0.0f);
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
      const int64_t kc = std::min(KC, K - k0);
      for (int i = 0; i < MR; i++) {
        if (i < mr) convert_row<D>(w, r0 + i, k0, kc, wt.data() + i * KC);
        else std::fill(wt.begin() + i * KC, wt.begin() + i * KC + kc, 0.0f);
      }
      for (int64_t b = 0; b < nblocks; b++) micro(wt.data(), xp + (b * K + k0) * NB, kc, cbuf.data() + b * MR * NB);
    }
    for (int64_t t = 0; t < T; t++) {
      const float* c = cbuf.data() + (t / NB) * MR * NB + t % NB;
      for (int64_t i = 0; i < mr; i++) y[t * w.rows + r0 + i] = c[i * NB] + (bias ? bias[r0 + i] : 0.0f);
    }
  }
}

// The packed tokens' buffer, kept per calling thread up to 64 MiB: a fresh one of this size
// is an mmap, zeroed and faulted in page by page on every call (~5% of a 45M-model prefill
// here). A larger one (a long prompt of a big model) lives in `once`, uninitialised.
float* packed_scratch(size_t floats, std::unique_ptr<float[]>& once) {
  constexpr size_t kKeep = (size_t(64) << 20) / sizeof(float);
  thread_local std::unique_ptr<float[]> kept;
  thread_local size_t kept_floats = 0;
  if (floats > kKeep) {
    once.reset(new float[floats]);
    return once.get();
  }
  if (floats > kept_floats) {
    kept.reset(new float[floats]);
    kept_floats = floats;
  }
  return kept.get();
}

#if NL_X86
// dst[c * ldd + r] = src[r * lds + c] for a 16 × 16 tile: four rounds of shuffles.
// (GCC 12 warns spuriously about the intrinsics' own undefined operands once inlined.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
NL_TARGET_AVX512 NL_INLINE void transpose16(const float* src, int64_t lds, float* dst, int64_t ldd) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + i * lds);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4)
    for (int j = 0; j < 2; j++) {
      const __m512d a = _mm512_castps_pd(t[i + j]), b = _mm512_castps_pd(t[i + j + 2]);
      r[i + 2 * j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
      r[i + 2 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    }
  for (int i = 0; i < 16; i += 8)
    for (int j = 0; j < 4; j++) {
      t[i + j] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0x88);
      t[i + j + 4] = _mm512_shuffle_f32x4(r[i + j], r[i + j + 4], 0xdd);
    }
  for (int j = 0; j < 8; j++) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
  for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + i * ldd, r[i]);
}

// The whole 16-column tiles of a full block; returns the columns done.
NL_TARGET_AVX512 int64_t pack_tiles_avx512(const float* src, int64_t K, float* dst) {
  int64_t k0 = 0;
  for (; k0 + 16 <= K; k0 += 16)
    for (int64_t j0 = 0; j0 < NB; j0 += 16) transpose16(src + j0 * K + k0, K, dst + k0 * NB + j0, NB);
  return k0;
}
#pragma GCC diagnostic pop
#endif

// One packed block: dst[k][j] = src[j][k] for the block's nt tokens (rows of K), zeros for
// j >= nt. Column-outer, so each output line is written once, in order; token-outer wrote
// every line of the block once per token and read rows 2^n floats apart (L1 set conflicts):
// ~4% of a 45M prefill. On AVX-512, whole 16 × 16 tiles go through registers.
void pack_block(const float* src, int64_t nt, int64_t K, float* dst) {
  int64_t k0 = 0;
#if NL_X86
  if (cpu_has_avx512vbmi() && nt == NB) k0 = pack_tiles_avx512(src, K, dst);
#endif
  for (int64_t k = k0; k < K; k++) {
    float* d = dst + k * NB;
    for (int64_t j = 0; j < nt; j++) d[j] = src[j * K + k];
    for (int64_t j = nt; j < NB; j++) d[j] = 0.0f;
  }
}

template <DType D>
void linear_typed(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y) {
  const int64_t rows = w.rows, K = w.cols;
  if (T < 8) {
    // Grain: a quarter of each thread's share of the weights, at least 256 KiB, in whole
    // 4-row groups. Each task is one long sequential read: with 64 KiB tasks two threads
    // interleave and restart the prefetchers every task (measured: ~30% less bandwidth).
    const int64_t bytes_per_row = K * int64_t(dtype_size(w.dtype));
    const int64_t task_bytes = std::max<int64_t>(int64_t(256) << 10, rows * bytes_per_row / (4 * int64_t(num_threads())));
    const int64_t grain = std::max<int64_t>(4, (task_bytes / std::max<int64_t>(1, bytes_per_row) + 3) / 4 * 4);
    constexpr bool fp8 = D == DType::F8_E4M3 || D == DType::F8_E5M2;
#if NL_X86
    if constexpr (fp8) {
      if (linear_few_avx512_all<Fp8Conv>(x, T, w, bias, y, grain)) return;
    } else if constexpr (D == DType::BF16) {
      if (linear_few_avx512_all<Bf16Conv>(x, T, w, bias, y, grain)) return;
    }
#endif
    if (fp8 && (row_scaling(w) != kColBlockScale || w.block_cols % 64 == 0)) {
      // x permuted to the lane order of the 64-code words (see dot_block_fp8).
      std::vector<float> xq(size_t(T * K));
      const int64_t K64 = K & ~int64_t(63);
      for (int64_t t = 0; t < T; t++) {
        for (int64_t k = 0; k < K64; k += 64)
          for (int s = 0; s < 4; s++)
            for (int j = 0; j < 16; j++) xq[t * K + k + 16 * s + j] = x[t * K + k + 4 * j + s];
        for (int64_t k = K64; k < K; k++) xq[t * K + k] = x[t * K + k];
      }
      over_token_groups(x, xq.data(), T, K, rows, grain, y, [&](auto nt, const float* xqt, const float* xt, float* yt, size_t b, size_t e) {
        linear_few_fp8<D, decltype(nt)::value>(xqt, xt, w, bias, yt, b, e);
      });
      return;
    }
    for (int64_t t0 = 0; t0 < T; t0 += 4) {
      const int64_t nt = std::min<int64_t>(4, T - t0);
      const float* xt = x + t0 * K;
      float* yt = y + t0 * rows;
      parallel_for(size_t(rows), size_t(grain), [&](size_t b, size_t e) {
        switch (nt) {
          case 1: linear_few<D, 1>(xt, w, bias, yt, b, e); break;
          case 2: linear_few<D, 2>(xt, w, bias, yt, b, e); break;
          case 3: linear_few<D, 3>(xt, w, bias, yt, b, e); break;
          default: linear_few<D, 4>(xt, w, bias, yt, b, e); break;
        }
      });
    }
    return;
  }
  // Pack x into k-major blocks of NB tokens (zero-padded): xp[b][k][j] = x[b*NB + j][k].
  const int64_t nblocks = (T + NB - 1) / NB;
  std::unique_ptr<float[]> once;
  float* xp = packed_scratch(size_t(nblocks * K * NB), once);
  parallel_for(size_t(nblocks), 1, [&](size_t b0, size_t b1) {
    for (size_t b = b0; b < b1; b++)
      pack_block(x + int64_t(b) * NB * K, std::min<int64_t>(NB, T - int64_t(b) * NB), K, xp + b * K * NB);
  });
  const int64_t panels = (rows + MR - 1) / MR;
  parallel_for(size_t(panels), 1, [&](size_t p0, size_t p1) { gemm_panels<D>(xp, T, w, bias, y, p0, p1); });
}

}  // namespace

void linear_fast(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y) {
  check_weight(w);
  if (row_scaling(w) == kGeneric && T < 8) {
    // Column blocks that are not a multiple of 16 wide: convert rows, then dot (rare layouts).
    parallel_for(size_t(w.rows), 16, [&](size_t b, size_t e) {
      std::vector<float> row(w.cols);
      for (size_t r = b; r < e; r++) {
        for (int64_t c = 0; c < w.cols; c++) row[c] = element_f32(w.data, w.dtype, r * w.cols + c) * w.scale_at(r, c);
        for (int64_t t = 0; t < T; t++) {
          float s = 0;
          for (int64_t c = 0; c < w.cols; c++) s += row[c] * x[t * w.cols + c];
          y[t * w.rows + r] = s + (bias ? bias[r] : 0.0f);
        }
      }
    });
    return;
  }
  switch (w.dtype) {
    case DType::F32: return linear_typed<DType::F32>(x, T, w, bias, y);
    case DType::BF16: return linear_typed<DType::BF16>(x, T, w, bias, y);
    case DType::F16: return linear_typed<DType::F16>(x, T, w, bias, y);
    case DType::F8_E4M3: return linear_typed<DType::F8_E4M3>(x, T, w, bias, y);
    case DType::F8_E5M2: return linear_typed<DType::F8_E5M2>(x, T, w, bias, y);
    default: NL_CHECK(false, "unsupported weight dtype");
  }
}

void embedding_fast(const StoredMatrix& e, const int32_t* ids, int64_t T, float* out) {
  for (int64_t t = 0; t < T; t++) {
    NL_CHECK(ids[t] >= 0 && ids[t] < e.rows, "token id " + std::to_string(ids[t]) + " outside the vocabulary [0, " + std::to_string(e.rows) + ")");
  }
  parallel_for(size_t(T), 1, [&](size_t b, size_t end) {
    for (size_t t = b; t < end; t++) {
      float* o = out + t * e.cols;
      switch (e.dtype) {
        case DType::F32: convert_row<DType::F32>(e, ids[t], 0, e.cols, o); break;
        case DType::BF16: convert_row<DType::BF16>(e, ids[t], 0, e.cols, o); break;
        case DType::F16: convert_row<DType::F16>(e, ids[t], 0, e.cols, o); break;
        case DType::F8_E4M3: convert_row<DType::F8_E4M3>(e, ids[t], 0, e.cols, o); break;
        case DType::F8_E5M2: convert_row<DType::F8_E5M2>(e, ids[t], 0, e.cols, o); break;
        default: NL_CHECK(false, "unsupported embedding dtype");
      }
    }
  });
}

}  // namespace nl
