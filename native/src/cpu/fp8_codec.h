// Bulk FP8 encode/decode (cpu/fp8.cc) and dtype -> f32 conversion (cpu/convert.cc).
#pragma once
#include "fp8.h"
#include "stored_matrix.h"

namespace nl {

// out[i] = fp8(src[i] * mul); src holds n values of dtype `in`.
void fp8_encode(const uint8_t* src, DType in, size_t n, Fp8Format f, bool saturate, float mul, uint8_t* out);
// out[i] = value(codes[i]) * mul
void fp8_decode(const uint8_t* codes, size_t n, Fp8Format f, float mul, float* out);

// Reference conversions from the definition (slow; for tests).
uint8_t fp8_encode_reference(float x, Fp8Format f, bool saturate);
float fp8_decode_reference(uint8_t c, Fp8Format f);

// Converts elements [start, start+n) of a buffer of dtype t to f32 (cpu/convert.cc).
void to_f32(const uint8_t* src, DType t, size_t start, size_t n, float* out);
// One stored element of a floating dtype as fp32: the definition the kernels' vectorised
// conversions are tested against.
float element_f32(const uint8_t* data, DType t, int64_t i);
// The m values from flat index i, dequantised into buf; an unscaled F32 matrix is read in
// place (the returned pointer). A scaled span must stay within one row. The one span
// reader of the statistics and the quantization.
const float* read_span(const StoredMatrix& s, size_t i, size_t m, float* buf);
// out (rows, cols) = the matrix as fp32, multi-threaded.
void dequantize(const StoredMatrix& s, float* out);

}  // namespace nl
