// AVX2 building blocks of the FP8 codec, shared by the bulk codec (cpu/fp8.cc) and the
// fused quantizer (cpu/quantize.cc). Same constants and results as the scalar fp8.h.
#pragma once
#include "fp8.h"
#include "simd.h"

namespace nl {
#if NL_X86
// The bit-trick encoder of fp8.h, eight lanes at a time (same constants, same results):
// normal values are rebiased and rounded to nearest even on the integer bits, subnormals
// are rounded by the FPU through a magic-number add, then overflow and NaN are selected.
struct Fp8Consts {
  uint32_t rebias_round, shift, min_normal, magic_bits, overflow_above, overflow_code, nan_code;
  float magic;
};
inline Fp8Consts fp8_consts(Fp8Format f, bool sat) {
  if (f == Fp8Format::E4M3) return {0xc4000000u + 0x7ffffu, 20, 0x3c800000u, 0x46800000u, 0x43e80000u, sat ? 0x7eu : 0x7fu, 0x7fu, 16384.0f};
  return {0xc8000000u + 0xfffffu, 21, 0x38800000u, 0x43000000u, 0x476fffffu, sat ? 0x7bu : 0x7cu, 0x7eu, 128.0f};
}

NL_TARGET_AVX2 inline __m256i encode8(__m256 v, const Fp8Consts& k) {
  const __m256i u = _mm256_castps_si256(v);
  const __m256i sign = _mm256_srli_epi32(_mm256_and_si256(u, _mm256_set1_epi32(int(0x80000000u))), 24);
  const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  const __m256i lsb = _mm256_and_si256(_mm256_srl_epi32(a, _mm_cvtsi32_si128(int(k.shift))), _mm256_set1_epi32(1));
  const __m256i normal = _mm256_srl_epi32(_mm256_add_epi32(_mm256_add_epi32(a, _mm256_set1_epi32(int(k.rebias_round))), lsb),
                                          _mm_cvtsi32_si128(int(k.shift)));
  const __m256 r = _mm256_add_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(k.magic));
  const __m256i sub = _mm256_sub_epi32(_mm256_castps_si256(r), _mm256_set1_epi32(int(k.magic_bits)));
  __m256i code = _mm256_blendv_epi8(normal, sub, _mm256_cmpgt_epi32(_mm256_set1_epi32(int(k.min_normal)), a));
  code = _mm256_blendv_epi8(code, _mm256_set1_epi32(int(k.overflow_code)), _mm256_cmpgt_epi32(a, _mm256_set1_epi32(int(k.overflow_above))));
  code = _mm256_blendv_epi8(code, _mm256_set1_epi32(int(k.nan_code)), _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7f800000)));
  return _mm256_or_si256(code, sign);
}


// Eight codes (low bytes of 32-bit lanes) to f32 through the F16 converter: an E5M2 code
// is the top byte of an F16; an E4M3 code in an F16's low exponent/mantissa bits is the
// value times 2^-8 (subnormals included); E4M3's NaN (S.1111.111) is patched.
NL_TARGET_AVX2 inline __m256 decode8(__m256i c, Fp8Format f) {
  const bool e4m3 = f == Fp8Format::E4M3;
  __m256i h = e4m3 ? _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x80)), 8),
                                     _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x7f)), 7))
                   : _mm256_slli_epi32(c, 8);
  __m256i p = _mm256_packus_epi32(h, h);
  __m256 v = _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08)));
  if (!e4m3) return v;
  v = _mm256_mul_ps(v, _mm256_set1_ps(256.0f));
  __m256i isnan = _mm256_cmpeq_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x7f)), _mm256_set1_epi32(0x7f));
  return _mm256_blendv_ps(v, _mm256_set1_ps(std::nanf("")), _mm256_castsi256_ps(isnan));
}

// Stores the low bytes of four 8-lane code vectors as 32 consecutive bytes.
NL_TARGET_AVX2 inline void store32_codes(uint8_t* out, __m256i c0, __m256i c1, __m256i c2, __m256i c3) {
  __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(c0, c1), _mm256_packus_epi32(c2, c3));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permutevar8x32_epi32(w, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}
#endif

}  // namespace nl
