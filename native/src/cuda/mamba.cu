// Mamba-2 pieces after the conv: dt = softplus(dt_raw + dt_bias) clamped, and the
// selective scan from the SSM state, used for both prefill (T tokens) and the one-token
// decode step.
//   dt_softplus: raw (T, nh) row stride ld_raw · bias (nh) -> dt (T, nh) = clamp(softplus(raw + bias), lo, hi)
//   ssm_scan:    x (T, nh*P) stride ldx · B, C (T, G*N) stride ldbc · dt (T, nh) · A, D (nh)
//                state (nh, P, N) in/out · y (T, nh*P):
//                s[h,p,n] = exp(dt·A[h])·s + dt·x[t,h,p]·B[t,g,n];  y[t,h,p] = Σ_n s·C[t,g,n] + D[h]·x[t,h,p]
// Why the recurrence and not the chunked SSD matmul form: one warp per (head, p) keeps its
// N states in registers (N/32 per lane) for all T tokens, so the state is read and written
// once per call; Nano-9B has 128·80 = 10240 such rows, enough warps to fill the GPU, and
// the result is the definition itself (the reference), token by token. The SSD form
// (tensor-core matmuls per chunk) is the next step if the device check shows the scan
// limiting prefill.
#include "cuda/kernels.h"
#include "cuda/plan.h"

namespace nl {
namespace cuda {

namespace {

constexpr int kMaxNPerLane = 8;  // N <= 256
constexpr int kWarps = kSsmWarps;  // the plan's (cuda/plan.h)

__global__ void dt_softplus_kernel(const float* raw, int64_t ld_raw, int64_t T, int64_t nh, const float* bias, float lo,
                                   float hi, float* dt) {
  const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= T * nh) return;
  const int64_t t = i / nh, h = i % nh;
  const float v = raw[t * ld_raw + h] + bias[h];
  const float s = v > 20.0f ? v : log1pf(expf(v));
  dt[i] = fminf(fmaxf(s, lo), hi);
}

// one warp per (h, p); block of kWarps warps
__global__ void ssm_scan_kernel(SsdArgs a) {
  const int64_t row = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= a.nh * a.P) return;
  const int64_t h = row / a.P, p = row % a.P, g = h / (a.nh / a.G), N = a.N;
  float* st = a.state + row * N;  // (N) of state (h, p, :)
  float s[kMaxNPerLane];
#pragma unroll
  for (int j = 0; j < kMaxNPerLane; j++) {
    const int64_t n = lane + 32 * j;
    s[j] = n < N ? st[n] : 0.0f;
  }
  const float A = a.A[h], D = a.D[h];
  for (int64_t t = 0; t < a.T; t++) {
    const float dt = a.dt[t * a.nh + h], dA = expf(dt * A);
    const float xv = a.x[t * a.ldx + h * a.P + p], dtx = dt * xv;
    const float* B = a.B + t * a.ldbc + g * N;
    const float* C = a.C + t * a.ldbc + g * N;
    float y = 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxNPerLane; j++) {
      const int64_t n = lane + 32 * j;
      if (n < N) {
        s[j] = dA * s[j] + dtx * B[n];
        y += s[j] * C[n];
      }
    }
    y = warp_sum(y);
    if (lane == 0) a.y[t * a.nh * a.P + row] = y + D * xv;
  }
#pragma unroll
  for (int j = 0; j < kMaxNPerLane; j++) {
    const int64_t n = lane + 32 * j;
    if (n < N) st[n] = s[j];
  }
}

}  // namespace

void dt_softplus(const float* raw, int64_t ld_raw, int64_t T, int64_t nh, const float* bias, float lo, float hi,
                 float* dt, cudaStream_t s) {
  if (T * nh == 0) return;
  const Launch p = dt_softplus_plan(T, nh);
  dt_softplus_kernel<<<p.grid_x, p.threads, 0, s>>>(raw, ld_raw, T, nh, bias, lo, hi, dt);
  CUDA_LAUNCHED();
}

void ssm_scan(const SsdArgs& a, cudaStream_t s) {
  NL_CHECK(a.N <= 32 * kMaxNPerLane, "cuda ssm: state size N must be <= " + std::to_string(32 * kMaxNPerLane));
  NL_CHECK(a.G > 0 && a.nh % a.G == 0, "cuda ssm: groups must divide heads");
  if (a.T == 0) return;
  const Launch p = ssm_scan_plan(a);
  ssm_scan_kernel<<<p.grid_x, p.threads, 0, s>>>(a);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
