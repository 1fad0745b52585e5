// Bulk FP8 encode/decode and dtype -> f32 conversion (see cpu/fp8.cc).
#pragma once
#include "fp8.h"

namespace nl {

// out[i] = fp8(src[i] * mul); src holds n values of dtype `in`.
void fp8_encode(const uint8_t* src, DType in, size_t n, Fp8Format f, bool saturate, float mul, uint8_t* out);
// out[i] = value(codes[i]) * mul
void fp8_decode(const uint8_t* codes, size_t n, Fp8Format f, float mul, float* out);

// Reference conversions from the definition (slow; for tests).
uint8_t fp8_encode_reference(float x, Fp8Format f, bool saturate);
float fp8_decode_reference(uint8_t c, Fp8Format f);

// Converts elements [start, start+n) of a buffer of dtype t to f32.
void to_f32(const uint8_t* src, DType t, size_t start, size_t n, float* out);
// out[r, c] = value(src[r, c]) * scale[r / block_rows, c / block_cols] (scale may be null).
void dequantize(const uint8_t* src, DType t, size_t rows, size_t cols, const float* scale, size_t block_rows,
                size_t block_cols, float* out);

}  // namespace nl
