// Run-time SIMD selection: fast paths are compiled for AVX2/FMA with target attributes and
// picked at run time, so the addon stays portable (no -march=native); other CPUs run the
// plain loops, which compilers still auto-vectorise for the baseline ISA.
#pragma once

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define NL_X86 1
#include <immintrin.h>
#define NL_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#include "common.h"
namespace nl {
// Eight elements [i, i+8) of an F32 / BF16 / F16 buffer as float lanes.
NL_TARGET_AVX2 inline __m256 load8(const uint8_t* src, DType in, size_t i) {
  if (in == DType::F32) return _mm256_loadu_ps(reinterpret_cast<const float*>(src) + i);
  __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(src) + i));
  if (in == DType::F16) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

inline bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return has;
}
}  // namespace nl
#else
#define NL_X86 0
namespace nl {
inline bool cpu_has_avx2() { return false; }
}  // namespace nl
#endif
