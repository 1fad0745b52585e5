// SIMD for the CPU kernels, in two layers (one header; every cpu/*.cc includes it):
//  1. Portable vectors: GCC/Clang vector extensions (16 fp32 lanes), compiled once per ISA
//     level through target_clones (NL_KERNEL: x86-64-v4 = AVX-512, v3 = AVX2+FMA, baseline)
//     and picked at run time; never -march=native. The converters turn 16 stored weight
//     elements of any dtype into fp32 lanes with integer bit moves only (bit-exact with
//     element_f32, NaN codes included).
//  2. x86 intrinsics for what vector extensions cannot say (vcvtph2ps, byte table lookups):
//     functions carry target attributes (NL_TARGET_AVX2, NL_TARGET_AVX512) and are called
//     only after the matching cpu_has_*() check; other CPUs run the portable loops.
#pragma once
#include <cstdlib>
#include <string>
#include <cstdint>
#include <cstring>

#include "common.h"

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && !defined(__clang__)
#define NL_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("fp-contract=fast")))
#elif defined(__GNUC__) && !defined(__clang__)
#define NL_KERNEL __attribute__((optimize("fp-contract=fast")))
#else
#define NL_KERNEL
#endif
#define NL_INLINE static inline __attribute__((always_inline))

namespace nl {
namespace simd {

typedef float v16f __attribute__((vector_size(64)));
typedef uint32_t v16u __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef uint16_t v16h __attribute__((vector_size(32)));
typedef uint8_t v16b __attribute__((vector_size(16)));

NL_INLINE v16f load(const float* p) { v16f v; std::memcpy(&v, p, 64); return v; }
NL_INLINE void store(float* p, v16f v) { std::memcpy(p, &v, 64); }
NL_INLINE v16f splat(float s) { return v16f{} + s; }
// The 16 lanes' sum as a tree: 4 dependent adds, where a lane-by-lane sum is 15 (~50
// cycles, which a short row, e.g. one SSM state row of 64 or 128, cannot hide).
NL_INLINE float hsum(v16f v) {
  typedef float v8f __attribute__((vector_size(32)));
  typedef float v4f __attribute__((vector_size(16)));
  v8f a, b;
  std::memcpy(&a, &v, 32);
  std::memcpy(&b, reinterpret_cast<const char*>(&v) + 32, 32);
  const v8f s8 = a + b;
  v4f c, d;
  std::memcpy(&c, &s8, 16);
  std::memcpy(&d, reinterpret_cast<const char*>(&s8) + 16, 16);
  const v4f s4 = c + d;
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}
NL_INLINE v16f as_f(v16u u) { return (v16f)u; }
// 16 bytes widened to 32-bit lanes. Through 16 bits: GCC 12 turns a direct u8 -> u32
// conversion into scalar code but vectorises both halves (vpmovzxbw, vpmovzxwd).
NL_INLINE v16u widen_bytes(const uint8_t* p) {
  v16b c;
  std::memcpy(&c, p, 16);
  return __builtin_convertvector(__builtin_convertvector(c, v16h), v16u);
}

// e^x in 16 lanes (Cephes expf: x = n·ln2 + r, a degree-6 polynomial for e^r, 2^n into the
// exponent): within ~2 ulp of expf. Results below ~1e-38 flush to 0, above FLT_MAX give inf.
NL_INLINE v16f exp16(v16f x) {
  const v16f hi = splat(88.72283f), lo = splat(-87.33654f);
  v16f xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  v16f fx = xc * 1.44269504088896341f + 0.5f;
  v16i n = __builtin_convertvector(fx, v16i);
  n += (v16i)(__builtin_convertvector(n, v16f) > fx);  // floor: truncation rounded toward zero
  v16f nf = __builtin_convertvector(n, v16f);
  v16f r = xc - nf * 0.693359375f - nf * -2.12194440e-4f;
  v16f p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  v16f out = (v16f)((v16i)p + ((n) << 23));
  out = x > hi ? splat(__builtin_inff()) : out;
  out = x < lo ? v16f{} : out;
  return x != x ? x : out;
}
// silu(x) = x / (1 + e^-x) in 16 lanes.
NL_INLINE v16f silu16(v16f x) { return x / (1.0f + exp16(-x)); }

// FP8 codes in the low byte of each lane (bits above are ignored) as fp32.
template <DType D>
NL_INLINE v16f fp8_low_byte(v16u u) {
  v16u sign = (u << 24) & 0x80000000u, em = u & 0x7fu;
  if constexpr (D == DType::F8_E4M3) {
    v16u finite = (v16u)(as_f(em << 20) * 0x1p120f);  // rebias 7 -> 127; subnormals exact
    v16u r = (em == 0x7fu) ? v16u{} + 0x7fc00000u : finite;
    return as_f(r | sign);
  } else {
    v16u finite = (v16u)(as_f(em << 21) * 0x1p112f);  // rebias 15 -> 127
    v16u special = 0x7f800000u | ((em & 3u) << 21);
    v16u r = (em >= 0x7cu) ? special : finite;
    return as_f(r | sign);
  }
}

// 16 elements starting at element index i of a buffer of dtype D.
template <DType D>
NL_INLINE v16f cvt16(const uint8_t* base, int64_t i) {
  if constexpr (D == DType::F32) {
    return load(reinterpret_cast<const float*>(base) + i);
  } else if constexpr (D == DType::BF16) {
    v16h h; std::memcpy(&h, base + 2 * i, 32);
    return as_f(__builtin_convertvector(h, v16u) << 16);
  } else if constexpr (D == DType::F16) {
    v16h h; std::memcpy(&h, base + 2 * i, 32);
    v16u u = __builtin_convertvector(h, v16u);
    v16u sign = (u & 0x8000u) << 16, em = u & 0x7fffu;
    v16u finite = (v16u)(as_f(em << 13) * 0x1p112f);  // subnormals come out exact too
    v16u special = 0x7f800000u | ((em & 0x3ffu) << 13);
    v16u r = (em >= 0x7c00u) ? special : finite;
    return as_f(r | sign);
  } else {
    return fp8_low_byte<D>(widen_bytes(base + i));
  }
}

}  // namespace simd
}  // namespace nl

// ---------------------------------------------------------------------------------------
// x86 intrinsics layer

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define NL_X86 1
#include <immintrin.h>
#define NL_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define NL_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vbmi,fma,f16c")))
namespace nl {
// Eight elements [i, i+8) of an F32 / BF16 / F16 buffer as float lanes.
NL_TARGET_AVX2 inline __m256 load8(const uint8_t* src, DType in, size_t i) {
  if (in == DType::F32) return _mm256_loadu_ps(reinterpret_cast<const float*>(src) + i);
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(src) + i));
  if (in == DType::F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// NEMOTRON_LAB_SIMD=avx2 or plain caps the paths chosen below (to test the fallbacks users'
// CPUs take on a machine that has more); unset, the best the CPU supports is used.
inline int simd_cap() {
  static const int cap = [] {
    const char* e = std::getenv("NEMOTRON_LAB_SIMD");
    if (!e) return 2;
    std::string v(e);
    return v == "plain" ? 0 : v == "avx2" ? 1 : 2;
  }();
  return cap;
}
inline bool cpu_has_avx2() {
  static const bool has = simd_cap() >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c");
  return has;
}
// AVX-512 with byte permutes (VBMI): Ice Lake and later, Zen 4 and later.
inline bool cpu_has_avx512vbmi() {
  static const bool has = simd_cap() >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vbmi") && cpu_has_avx2();
  return has;
}
}  // namespace nl
#else
#define NL_X86 0
namespace nl {
inline bool cpu_has_avx2() { return false; }
inline bool cpu_has_avx512vbmi() { return false; }
}  // namespace nl
#endif
