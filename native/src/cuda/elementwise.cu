// Element-wise ops (the embedding gather runs on the host: backend.cu uploads only the rows).
//   relu2:     x (n) = relu(x)²
//   add:       h (n) += y (n)
#include <algorithm>

#include "cuda/kernels.h"
#include "cuda/plan.h"

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

}  // namespace

void relu2(float* x, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  const Launch p = relu2_plan(n);
  relu2_kernel<<<p.grid_x, p.threads, 0, s>>>(x, n);
  CUDA_LAUNCHED();
}

void add(float* h, const float* y, int64_t n, cudaStream_t s) {
  if (n == 0) return;
  const Launch p = add_plan(n);
  add_kernel<<<p.grid_x, p.threads, 0, s>>>(h, y, n);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
