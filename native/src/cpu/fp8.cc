// FP8 codec over whole buffers: the fast bulk paths (multi-threaded; 16-bit inputs go
// through a 64K-entry table, since a BF16/F16 value has only 65536 possible codes) and
// a reference derived straight from the definition, used by the tests.
#include "cpu/fp8_codec.h"

#include <mutex>
#include <vector>

#include "simd.h"
#include "thread_pool.h"

namespace nl {

namespace {

// Value of a code from its bit fields (the definition, not a trick).
float decode_fields(uint8_t c, Fp8Format f) {
  int mant_bits = f == Fp8Format::E4M3 ? 3 : 2, exp_bits = 7 - mant_bits;
  int bias = (1 << (exp_bits - 1)) - 1;
  int sign = c >> 7, e = (c >> mant_bits) & ((1 << exp_bits) - 1), m = c & ((1 << mant_bits) - 1);
  float s = sign ? -1.0f : 1.0f;
  if (f == Fp8Format::E4M3 && e == 15 && m == 7) return std::nanf("");
  if (f == Fp8Format::E5M2 && e == 31) return m ? std::nanf("") : s * INFINITY;
  if (e == 0) return s * std::ldexp(float(m), 1 - bias - mant_bits);
  return s * std::ldexp(float((1 << mant_bits) + m), e - bias - mant_bits);
}

struct Tables {
  float decode[2][256];
  Tables() {
    for (int f = 0; f < 2; f++)
      for (int c = 0; c < 256; c++) decode[f][c] = decode_fields(uint8_t(c), Fp8Format(f));
  }
};
const Tables& tables() { static Tables t; return t; }

// 16-bit input -> code, one table per (input dtype, format, saturate), built on first use.
const uint8_t* lut16(DType in, Fp8Format f, bool saturate) {
  static std::mutex mu;
  static std::vector<uint8_t> luts[2][2][2];
  int i = in == DType::BF16 ? 0 : 1;
  std::lock_guard<std::mutex> g(mu);
  auto& t = luts[i][int(f)][saturate ? 1 : 0];
  if (t.empty()) {
    t.resize(65536);
    for (uint32_t h = 0; h < 65536; h++) {
      float x = i == 0 ? bf16_to_f32(uint16_t(h)) : f16_to_f32(uint16_t(h));
      t[h] = f32_to_fp8(x, f, saturate);
    }
  }
  return t.data();
}

constexpr size_t kGrain = 1 << 16;

template <Fp8Format F>
__attribute__((noinline)) void encode_f32_span(const float* x, uint8_t* out, size_t n, bool sat, float mul) {
  if (mul == 1.0f) {
    for (size_t i = 0; i < n; i++) out[i] = f32_to_fp8(x[i], F, sat);
  } else {
    for (size_t i = 0; i < n; i++) out[i] = f32_to_fp8(x[i] * mul, F, sat);
  }
}

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

NL_TARGET_AVX2 void encode_avx2(const uint8_t* src, DType in, size_t b, size_t e, Fp8Format f, bool sat, float mul, uint8_t* out) {
  const Fp8Consts k = fp8_consts(f, sat);
  const __m256 m = _mm256_set1_ps(mul);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = b;
  for (; i + 32 <= e; i += 32) {
    __m256i c0 = encode8(_mm256_mul_ps(load8(src, in, i), m), k);
    __m256i c1 = encode8(_mm256_mul_ps(load8(src, in, i + 8), m), k);
    __m256i c2 = encode8(_mm256_mul_ps(load8(src, in, i + 16), m), k);
    __m256i c3 = encode8(_mm256_mul_ps(load8(src, in, i + 24), m), k);
    __m256i w = _mm256_packus_epi16(_mm256_packus_epi32(c0, c1), _mm256_packus_epi32(c2, c3));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm256_permutevar8x32_epi32(w, order));
  }
  float buf[32];
  if (i < e) {
    to_f32(src, in, i, e - i, buf);
    for (size_t j = 0; i + j < e; j++) out[i + j] = f32_to_fp8(buf[j] * mul, f, sat);
  }
}

// FP8 -> f32 through the F16 converter: an E5M2 code is the top byte of an F16, and an E4M3
// code shifted into an F16's exponent/mantissa fields is the value times 2^-8 (subnormals
// included); E4M3's NaN (S.1111.111) is the one pattern that needs patching.
NL_TARGET_AVX2 void decode_avx2(const uint8_t* codes, size_t b, size_t e, Fp8Format f, float mul, float* out) {
  const bool e4m3 = f == Fp8Format::E4M3;
  const __m256 m = _mm256_set1_ps(e4m3 ? mul * 256.0f : mul);
  const __m256 nan = _mm256_set1_ps(std::nanf(""));
  size_t i = b;
  for (; i + 8 <= e; i += 8) {
    __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i)));
    __m256i h;
    if (e4m3) {
      h = _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x80)), 8),
                          _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x7f)), 7));
    } else {
      h = _mm256_slli_epi32(c, 8);
    }
    // Pack the eight 16-bit values into the low 128 bits for vcvtph2ps.
    __m256i p = _mm256_packus_epi32(h, h);
    __m128i h16 = _mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08));
    __m256 v = _mm256_mul_ps(_mm256_cvtph_ps(h16), m);
    if (e4m3) {
      __m256i isnan = _mm256_cmpeq_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x7f)), _mm256_set1_epi32(0x7f));
      v = _mm256_blendv_ps(v, nan, _mm256_castsi256_ps(isnan));
    }
    _mm256_storeu_ps(out + i, v);
  }
  const float* t = fp8_decode_table(f);
  for (; i < e; i++) out[i] = t[codes[i]] * mul;
}
#endif

}  // namespace

const float* fp8_decode_table(Fp8Format f) { return tables().decode[int(f)]; }

uint8_t fp8_encode_reference(float x, Fp8Format f, bool saturate) {
  const float* t = fp8_decode_table(f);
  if (std::isnan(x)) return f == Fp8Format::E4M3 ? uint8_t(std::signbit(x) ? 0xff : 0x7f)
                                                  : uint8_t(std::signbit(x) ? 0xfe : 0x7e);
  uint8_t sign = std::signbit(x) ? 0x80 : 0;
  double a = std::fabs(double(x));
  uint8_t max_code = f == Fp8Format::E4M3 ? 0x7e : 0x7b;
  double max = t[max_code];
  // The value one step past max (exponent grid continued): 480 for E4M3, 65536 for E5M2.
  double next = f == Fp8Format::E4M3 ? 480.0 : 65536.0;
  double mid = (max + next) / 2;
  bool overflow = a > mid || (a == mid && (max_code & 1));  // a tie goes to the even neighbour
  if (overflow) {
    if (saturate) return sign | max_code;
    return f == Fp8Format::E4M3 ? (sign | 0x7f) : (sign | 0x7c);
  }
  // Nearest non-negative finite code; ties to the even code (even mantissa).
  int best = 0;
  double best_d = INFINITY;
  for (int c = 0; c <= max_code; c++) {
    double d = std::fabs(double(t[c]) - a);
    if (d < best_d || (d == best_d && (c & 1) == 0)) { best = c; best_d = d; }
  }
  return sign | uint8_t(best);
}

float fp8_decode_reference(uint8_t c, Fp8Format f) { return decode_fields(c, f); }

void fp8_encode(const uint8_t* src, DType in, size_t n, Fp8Format f, bool saturate, float mul, uint8_t* out) {
#if NL_X86
  if (cpu_has_avx2() && (in == DType::F32 || in == DType::BF16 || in == DType::F16)) {
    parallel_for(n, kGrain, [&](size_t b, size_t e) { encode_avx2(src, in, b, e, f, saturate, mul, out); });
    return;
  }
#endif
  if ((in == DType::BF16 || in == DType::F16) && mul == 1.0f) {
    const uint8_t* lut = lut16(in, f, saturate);
    const uint16_t* h = reinterpret_cast<const uint16_t*>(src);
    parallel_for(n, kGrain, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; i++) out[i] = lut[h[i]];
    });
    return;
  }
  parallel_for(n, kGrain, [&](size_t b, size_t e) {
    float buf[1024];
    for (size_t i = b; i < e; i += 1024) {
      size_t m = e - i < 1024 ? e - i : 1024;
      const float* x;
      if (in == DType::F32) {
        x = reinterpret_cast<const float*>(src) + i;
      } else {
        to_f32(src, in, i, m, buf);
        x = buf;
      }
      if (f == Fp8Format::E4M3) encode_f32_span<Fp8Format::E4M3>(x, out + i, m, saturate, mul);
      else encode_f32_span<Fp8Format::E5M2>(x, out + i, m, saturate, mul);
    }
  });
}

void fp8_decode(const uint8_t* codes, size_t n, Fp8Format f, float mul, float* out) {
#if NL_X86
  if (cpu_has_avx2()) {
    parallel_for(n, kGrain, [&](size_t b, size_t e) { decode_avx2(codes, b, e, f, mul, out); });
    return;
  }
#endif
  float t[256];
  const float* base = fp8_decode_table(f);
  for (int c = 0; c < 256; c++) t[c] = base[c] * mul;
  parallel_for(n, kGrain, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; i++) out[i] = t[codes[i]];
  });
}

}  // namespace nl
