// Fused FP8 quantization of a [rows, cols] tensor: one scale per [block_rows, block_cols]
// block (per tensor = one block, per output channel = 1 x cols blocks, 2-D blocks),
// scale = clip / fmax, code = fp8(x / scale) with saturation, and, in the same pass,
// the error of the dequantised result against the input. cpu/quantize.cc holds the fast
// multi-threaded kernel (its parts: quantize_internal.h), cpu/quantize_reference.cc the plain
// single-threaded reference; the tests compare them.
#pragma once
#include "stored_matrix.h"
#include "fp8.h"

namespace nl {

enum class ScaleMode : int32_t {
  Amax = 0,        // clip = max |x| of the block
  Percentile = 1,  // clip = the q-th percentile of |x| of the block (linear interpolation, like torch.quantile)
  Search = 2,      // clip = ratio * amax, ratio on a grid in [min_ratio, 1] minimising the squared error
  Given = 3,       // the scales are passed in
};

struct QuantParams {
  Fp8Format format = Fp8Format::E4M3;
  size_t block_rows = 1, block_cols = 1;
  ScaleMode mode = ScaleMode::Amax;
  double percentile = 99.99;  // Percentile
  int search_steps = 100;     // Search: number of candidate ratios
  double search_min_ratio = 0.5;
  bool metrics = false;
};

// Sums over the whole tensor; the TypeScript side turns them into SQNR, cosine, fractions.
struct QuantMetrics {
  double sig = 0, noise = 0, dot = 0, qq = 0, sum_abs = 0, max_abs = 0;
  uint64_t count = 0, zeros = 0, clipped = 0, flushed_zero = 0, subnormal = 0;
};

struct QuantResult {
  uint64_t nonfinite = 0;  // NaN / Inf inputs (left out of amax; NaN stays NaN, Inf saturates)
  QuantMetrics m;
};

// scales: ceil(rows/br) * ceil(cols/bc) floats, read for Given, written otherwise.
QuantResult quantize_fp8(const StoredMatrix& src, const QuantParams& p, float* scales, uint8_t* codes);
QuantResult quantize_fp8_reference(const StoredMatrix& src, const QuantParams& p, float* scales, uint8_t* codes);

}  // namespace nl
