// Element-wise ops and the embedding gather.
//   relu2:     x (n) = relu(x)²
//   add:       h (n) += y (n)
//   embedding: out (T, cols) = table[ids[t]] converted to fp32 with its scale; ids (T) are
//              device memory, already checked against the vocabulary by the caller.
#include <algorithm>

#include "cuda/kernels.h"

namespace nl {
namespace cuda {

namespace {

__global__ void relu2_kernel(float* x, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float r = x[i] > 0.0f ? x[i] : 0.0f;
    x[i] = r * r;
  }
}

__global__ void add_kernel(float* h, const float* y, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    h[i] += y[i];
}

// one block per token
__global__ void embedding_kernel(StoredMatrix e, const int32_t* __restrict__ ids, float* __restrict__ out) {
  const int64_t t = blockIdx.x, r = ids[t];
  for (int64_t c = threadIdx.x; c < e.cols; c += blockDim.x) {
    float v = elem_any(e.data, int(e.dtype), r * e.cols + c);
    if (e.scale) v *= e.scale_row(r)[c / e.block_cols];
    out[t * e.cols + c] = v;
  }
}

unsigned grid_for(int64_t n) { return unsigned(std::min<int64_t>((n + 255) / 256, 65535)); }

}  // namespace

void relu2(float* x, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  relu2_kernel<<<grid_for(n), 256, 0, s>>>(x, n);
  CUDA_LAUNCHED();
}

void add(float* h, const float* y, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  add_kernel<<<grid_for(n), 256, 0, s>>>(h, y, n);
  CUDA_LAUNCHED();
}

void embedding(const StoredMatrix& table, const int32_t* ids, int64_t T, float* out, cudaStream_t s) {
  if (T == 0) return;
  embedding_kernel<<<unsigned(T), 256, 0, s>>>(table, ids, out);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
