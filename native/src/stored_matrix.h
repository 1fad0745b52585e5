// A stored matrix: the one description of a [rows, cols] tensor in its stored dtype with
// an optional fp32 scale grid, used by every native part that reads checkpoint tensors
// (the backend ops, statistics, FP8 quantization, the model's weights and, with device
// pointers, the CUDA kernels). Element (r, c) = value(data[r * cols + c]) * scale[r / br, c / bc];
// the grid has one scale per [block_rows, block_cols] block, the last ones partial:
// per tensor = one block, per output channel = 1 x cols blocks, 2-D blocks.
// The N-API parser is napi/tensor_arg.h; TypeScript passes Tensor.nativeArgs().
#pragma once
#include <cstdint>

#include "common.h"

#ifdef __CUDACC__
#define NL_HOST_DEVICE __host__ __device__
#else
#define NL_HOST_DEVICE
#endif

namespace nl {

// Blocks of `block` elements needed to cover n (the last one partial).
NL_HOST_DEVICE inline int64_t blocks_covering(int64_t n, int64_t block) { return (n + block - 1) / block; }

// Scales in the grid of a [rows, cols] matrix cut into [block_rows, block_cols] blocks.
NL_HOST_DEVICE inline int64_t scale_grid_count(int64_t rows, int64_t cols, int64_t block_rows, int64_t block_cols) {
  return blocks_covering(rows, block_rows) * blocks_covering(cols, block_cols);
}

struct StoredMatrix {
  const uint8_t* data = nullptr;
  DType dtype = DType::F32;
  int64_t rows = 0, cols = 0;
  const float* scale = nullptr;  // null: unscaled
  int64_t block_rows = 1, block_cols = 1;

  NL_HOST_DEVICE int64_t count() const { return rows * cols; }
  int64_t bytes() const { return count() * int64_t(dtype_size(dtype)); }
  NL_HOST_DEVICE int64_t scale_rows() const { return blocks_covering(rows, block_rows); }
  NL_HOST_DEVICE int64_t scale_cols() const { return blocks_covering(cols, block_cols); }
  // Floats in the scale grid (0 when unscaled).
  NL_HOST_DEVICE int64_t scale_count() const { return scale ? scale_rows() * scale_cols() : 0; }
  // The scales of row r, indexed by c / block_cols (only when scaled).
  NL_HOST_DEVICE const float* scale_row(int64_t r) const { return scale + (r / block_rows) * scale_cols(); }
  NL_HOST_DEVICE float scale_at(int64_t r, int64_t c) const { return scale ? scale_row(r)[c / block_cols] : 1.0f; }
  // One scale factor for the whole matrix (or none).
  NL_HOST_DEVICE bool single_scale() const { return !scale || (block_rows >= rows && block_cols >= cols); }
  NL_HOST_DEVICE bool empty() const { return data == nullptr; }
};

}  // namespace nl
