// FP8 E4M3 ("e4m3fn", OCP) and E5M2 scalar conversions, bit-exact: round to nearest,
// ties to even, subnormals, signed zero, NaN stays NaN. These inline versions are the
// fast ones used inside every kernel; cpu/fp8.cc keeps a reference derived from the
// definition (nearest value of the decode table) and the test compares the two.
#pragma once
#include "common.h"

namespace nl {

enum class Fp8Format : int32_t { E4M3 = 0, E5M2 = 1 };

// E4M3: bias 7, max 448 (S.1111.110), NaN S.1111.111, no infinity.
inline uint8_t f32_to_e4m3(float x, bool saturate) {
  uint32_t u = f32_bits(x);
  uint8_t sign = uint8_t((u >> 24) & 0x80u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7fu;                               // NaN
  if (a > 0x43e80000u) return sign | (saturate ? 0x7eu : 0x7fu);          // > 464 rounds past 448
  if (a < 0x3c800000u) {                                                  // below 2^-6: quantum 2^-9
    float r = bits_f32(a) + 16384.0f;                                     // ulp(2^14) = 2^-9: FPU rounds RNE
    return sign | uint8_t(f32_bits(r) - 0x46800000u);
  }
  a += 0xc4000000u /* -120 << 23: rebias 127 -> 7 */ + 0x7ffffu + ((a >> 20) & 1u);
  return sign | uint8_t(a >> 20);
}

// E5M2: bias 15, max 57344 (S.11110.11), inf S.11111.00, NaN S.11111.{01,10,11}.
inline uint8_t f32_to_e5m2(float x, bool saturate) {
  uint32_t u = f32_bits(x);
  uint8_t sign = uint8_t((u >> 24) & 0x80u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7eu;                               // NaN (quiet)
  if (a >= 0x47700000u) return sign | (saturate ? 0x7bu : 0x7cu);         // >= 61440 rounds to 2^16
  if (a < 0x38800000u) {                                                  // below 2^-14: quantum 2^-16
    float r = bits_f32(a) + 128.0f;                                       // ulp(2^7) = 2^-16
    return sign | uint8_t(f32_bits(r) - 0x43000000u);
  }
  a += 0xc8000000u /* -112 << 23: rebias 127 -> 15 */ + 0xfffffu + ((a >> 21) & 1u);
  return sign | uint8_t(a >> 21);
}

inline uint8_t f32_to_fp8(float x, Fp8Format f, bool saturate) {
  return f == Fp8Format::E4M3 ? f32_to_e4m3(x, saturate) : f32_to_e5m2(x, saturate);
}

// Decode tables, 256 floats per format, filled once from the bit fields.
const float* fp8_decode_table(Fp8Format f);

inline float e4m3_to_f32(uint8_t c) { return fp8_decode_table(Fp8Format::E4M3)[c]; }
inline float e5m2_to_f32(uint8_t c) { return fp8_decode_table(Fp8Format::E5M2)[c]; }

inline float fp8_max(Fp8Format f) { return f == Fp8Format::E4M3 ? 448.0f : 57344.0f; }

}  // namespace nl
