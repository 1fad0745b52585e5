// Portable SIMD for the CPU kernels: GCC/Clang vector extensions (16 fp32 lanes), compiled
// once per ISA level through target_clones (x86-64-v4 = AVX-512, v3 = AVX2+FMA, baseline)
// and picked at run time; never -march=native. The converters turn 16 stored weight
// elements of any dtype into fp32 lanes with integer bit moves only (bit-exact with
// element_f32, NaN codes included).
#pragma once
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
NL_INLINE float hsum(v16f v) {
  float s = 0;
  for (int i = 0; i < 16; i++) s += v[i];
  return s;
}
NL_INLINE v16f as_f(v16u u) { return (v16f)u; }

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
  } else if constexpr (D == DType::F8_E4M3) {
    v16b c; std::memcpy(&c, base + i, 16);
    v16u u = __builtin_convertvector(c, v16u);
    v16u sign = (u & 0x80u) << 24, em = u & 0x7fu;
    v16u finite = (v16u)(as_f(em << 20) * 0x1p120f);
    v16u r = (em == 0x7fu) ? v16u{} + 0x7fc00000u : finite;
    return as_f(r | sign);
  } else {  // F8_E5M2
    v16b c; std::memcpy(&c, base + i, 16);
    v16u u = __builtin_convertvector(c, v16u);
    v16u sign = (u & 0x80u) << 24, em = u & 0x7fu;
    v16u finite = (v16u)(as_f(em << 21) * 0x1p112f);
    v16u special = 0x7f800000u | ((em & 3u) << 21);
    v16u r = (em >= 0x7cu) ? special : finite;
    return as_f(r | sign);
  }
}

}  // namespace simd
}  // namespace nl
