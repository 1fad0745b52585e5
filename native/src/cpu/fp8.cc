// FP8 codec over whole buffers: the fast bulk paths (multi-threaded; 16-bit inputs go
// through a 64K-entry table, since a BF16/F16 value has only 65536 possible codes) and
// a reference derived straight from the definition, used by the tests.
#include "cpu/fp8_codec.h"

#include <mutex>
#include <vector>

#include "cpu/fp8_simd.h"
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
NL_TARGET_AVX2 void encode_avx2(const uint8_t* src, DType in, size_t b, size_t e, Fp8Format f, bool sat, float mul, uint8_t* out) {
  const Fp8Consts k = fp8_consts(f, sat);
  const __m256 m = _mm256_set1_ps(mul);
  size_t i = b;
  for (; i + 32 <= e; i += 32) {
    store32_codes(out + i, encode8(_mm256_mul_ps(load8(src, in, i), m), k), encode8(_mm256_mul_ps(load8(src, in, i + 8), m), k),
                  encode8(_mm256_mul_ps(load8(src, in, i + 16), m), k), encode8(_mm256_mul_ps(load8(src, in, i + 24), m), k));
  }
  float buf[32];
  if (i < e) {
    to_f32(src, in, i, e - i, buf);
    for (size_t j = 0; i + j < e; j++) out[i + j] = f32_to_fp8(buf[j] * mul, f, sat);
  }
}

NL_TARGET_AVX2 void decode_avx2(const uint8_t* codes, size_t b, size_t e, Fp8Format f, float mul, float* out) {
  const __m256 m = _mm256_set1_ps(mul);
  size_t i = b;
  for (; i + 8 <= e; i += 8) {
    __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i)));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(decode8(c, f), m));
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
