// Shared definitions of the native side: dtypes (mirrored in src/tensor/dtype.ts),
// scalar conversions, and the error type that crosses the N-API boundary as a JS Error.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace nl {

// Order is the wire contract with TypeScript (DTYPES in src/tensor/dtype.ts; dtypeCode is the index).
enum class DType : int32_t { F64 = 0, F32, F16, BF16, F8_E4M3, F8_E5M2, I8, I16, I32, I64, U8, BOOL, COUNT };

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    default: return 1;
  }
}

// C++ checks carry file and line; addon.cc turns them into JS exceptions, never exits.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
#define NL_STR2(x) #x
#define NL_STR(x) NL_STR2(x)
#define NL_CHECK(cond, msg)                                                              \
  do {                                                                                   \
    if (!(cond)) throw ::nl::Error(std::string(msg) + " [" __FILE__ ":" NL_STR(__LINE__) "]"); \
  } while (0)

inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float bf16_to_f32(uint16_t h) { return bits_f32(uint32_t(h) << 16); }

// Round to nearest even; NaN stays a quiet NaN with its sign.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in f32
    float v = float(mant) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
}

// Round to nearest even, overflow to inf, NaN stays NaN.
inline uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00u;
  if (a >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65536
  if (a < 0x38800000u) {                         // below 2^-14: subnormal quantum 2^-24
    float r = bits_f32(a) + 0.5f;                 // 0.5 = 2^-1: ulp is 2^-24, so this rounds RNE
    return sign | uint16_t(f32_bits(r) - f32_bits(0.5f));
  }
  uint32_t mant_odd = (a >> 13) & 1u;
  a += 0xfffu + mant_odd - (112u << 23);
  return sign | uint16_t(a >> 13);
}

}  // namespace nl
