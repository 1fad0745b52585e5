// RMSNorm and the Mamba mixer's gated group RMSNorm, one block per normalised row (or
// row group): fp32 sum of squares by a block reduction, then the scaled write.
//   rmsnorm:       y (T, n) = x / sqrt(mean(x²) + eps) * w
//   add_rmsnorm:   h += y, then x = rmsnorm(h) * w: the residual add and the next layer's norm
//                  in one launch (h read once, written once; each thread normalises what it added)
//   gated_rmsnorm: out (T, n) = g / sqrt(mean_group(g²) + eps) * w, g = y * silu(z), z with row
//                  stride ldz; out may alias y (each thread rewrites only what it read).
#include "cuda/kernels.h"
#include "cuda/plan.h"

namespace nl {
namespace cuda {

namespace {

constexpr int kThreads = kNormThreads;  // the plan's (cuda/plan.h)

__global__ void rmsnorm_kernel(const float* x, int64_t n, const float* __restrict__ w, float eps, float* y) {
  const float* xr = x + int64_t(blockIdx.x) * n;
  float* yr = y + int64_t(blockIdx.x) * n;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
  const float inv = rsqrtf(block_sum(ss) / float(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] * inv * w[i];
}

__global__ void add_rmsnorm_kernel(float* h, const float* y, int64_t n, const float* __restrict__ w, float eps, float* x) {
  float* hr = h + int64_t(blockIdx.x) * n;
  const float* yr = y + int64_t(blockIdx.x) * n;
  float* xr = x + int64_t(blockIdx.x) * n;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = hr[i] + yr[i];
    hr[i] = v;
    ss += v * v;
  }
  const float inv = rsqrtf(block_sum(ss) / float(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) xr[i] = hr[i] * inv * w[i];
}

// grid (n / group, T)
__global__ void gated_rmsnorm_kernel(const float* y, const float* z, int64_t ldz, int64_t n, int64_t group,
                                     const float* __restrict__ w, float eps, float* out) {
  const int64_t t = blockIdx.y, g0 = int64_t(blockIdx.x) * group;
  const float* yr = y + t * n + g0;
  const float* zr = z + t * ldz + g0;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < group; i += blockDim.x) {
    const float g = yr[i] * silu(zr[i]);
    ss += g * g;
  }
  const float inv = rsqrtf(block_sum(ss) / float(group) + eps);
  float* o = out + t * n + g0;
  for (int64_t i = threadIdx.x; i < group; i += blockDim.x) o[i] = yr[i] * silu(zr[i]) * inv * w[g0 + i];
}

}  // namespace

void rmsnorm(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y, cudaStream_t s) {
  if (T == 0) return;
  const Launch p = rmsnorm_plan(T, n);
  rmsnorm_kernel<<<p.grid_x, p.threads, 0, s>>>(x, n, w, eps, y);
  CUDA_LAUNCHED();
}

void add_rmsnorm(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x, cudaStream_t s) {
  if (T == 0) return;
  const Launch p = add_rmsnorm_plan(T, n);
  add_rmsnorm_kernel<<<p.grid_x, p.threads, 0, s>>>(h, y, n, w, eps, x);
  CUDA_LAUNCHED();
}

void gated_rmsnorm(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group, const float* w,
                   float eps, float* out, cudaStream_t s) {
  NL_CHECK(group > 0 && n % group == 0, "gated_rmsnorm: group size must divide the width");
  if (T == 0) return;
  NL_CHECK(T <= 65535, "cuda gated_rmsnorm: too many tokens in one call");
  const Launch p = gated_rmsnorm_plan(T, n, group);
  gated_rmsnorm_kernel<<<dim3(p.grid_x, p.grid_y), p.threads, 0, s>>>(y, z, ldz, n, group, w, eps, out);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
