// MoE row movement on the device (backend.h; the CPU versions are in cpu/moe.cc):
//   gather_rows:      dst (n, cols) = src rows rows[j]
//   scatter_add_rows: dst row rows[j] += w[j] · src row j (rows distinct: no atomics needed)
// rows and w arrive in device memory (backend.cu uploads the host index lists).
#include "cuda/kernels.h"

namespace nl {
namespace cuda {

namespace {

__global__ void gather_rows_kernel(const float* src, int64_t cols, const int32_t* rows, float* dst) {
  const float* s = src + int64_t(rows[blockIdx.x]) * cols;
  float* d = dst + int64_t(blockIdx.x) * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) d[c] = s[c];
}

__global__ void scatter_add_rows_kernel(const float* src, int64_t cols, const int32_t* rows, const float* w, float* dst) {
  const float* s = src + int64_t(blockIdx.x) * cols;
  float* d = dst + int64_t(rows[blockIdx.x]) * cols;
  const float wj = w[blockIdx.x];
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) d[c] = __fadd_rn(d[c], __fmul_rn(wj, s[c]));
}

}  // namespace

void gather_rows(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst, cudaStream_t s) {
  if (n == 0) return;
  gather_rows_kernel<<<unsigned(n), 256, 0, s>>>(src, cols, rows, dst);
  CUDA_LAUNCHED();
}

void scatter_add_rows(const float* src, int64_t cols, const int32_t* rows, const float* w, int64_t n, float* dst,
                      cudaStream_t s) {
  if (n == 0) return;
  scatter_add_rows_kernel<<<unsigned(n), 256, 0, s>>>(src, cols, rows, w, dst);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
