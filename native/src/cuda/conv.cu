// Causal depthwise conv1d + SiLU over the Mamba xBC channels, continuing from the conv
// state: one thread per channel walks the T tokens with its K-tap window in registers
// (reads of a token row are coalesced across the channels), then writes the last K-1
// inputs back as the new state.
//   in (T, C) row stride ld_in · w (C, K) · b (C) or null · conv_state (K-1, C) · out (T, C)
//   out[t, c] = silu(b[c] + Σ_k w[c, k] · win[t + k, c]),  win = [conv_state; in]
#include "cuda/kernels.h"
#include "cuda/plan.h"

namespace nl {
namespace cuda {

namespace {

constexpr int kMaxK = 8;

__global__ void conv1d_silu_kernel(const float* __restrict__ in, int64_t ld_in, int64_t T, int64_t C, int K,
                                   const float* __restrict__ w, const float* __restrict__ b, float* conv_state,
                                   float* __restrict__ out) {
  const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float win[kMaxK], wk[kMaxK];  // win[0..K-2]: the previous K-1 inputs, oldest first
#pragma unroll
  for (int k = 0; k < kMaxK; k++) {
    wk[k] = k < K ? w[c * K + k] : 0.0f;
    win[k] = k < K - 1 ? conv_state[k * C + c] : 0.0f;
  }
  const float bias = b ? b[c] : 0.0f;
  for (int64_t t = 0; t < T; t++) {
    const float xin = in[t * ld_in + c];
    float acc = bias;
#pragma unroll
    for (int k = 0; k < kMaxK; k++) {
      if (k < K - 1) acc += wk[k] * win[k];
      else if (k == K - 1) acc += wk[k] * xin;
    }
    out[t * C + c] = silu(acc);
#pragma unroll
    for (int k = 0; k < kMaxK - 1; k++) {
      if (k < K - 2) win[k] = win[k + 1];
      else if (k == K - 2) win[k] = xin;
    }
  }
#pragma unroll
  for (int k = 0; k < kMaxK; k++)
    if (k < K - 1) conv_state[k * C + c] = win[k];
}

}  // namespace

void conv1d_silu(const float* in, int64_t ld_in, int64_t T, int64_t C, int64_t K, const float* w, const float* b,
                 float* conv_state, float* out, cudaStream_t s) {
  NL_CHECK(K >= 1 && K <= kMaxK, "cuda conv1d: kernel size must be 1.." + std::to_string(kMaxK) + ", got " + std::to_string(K));
  if (T == 0 || C == 0) return;
  const Launch p = conv1d_plan(T, C, K, b != nullptr);
  conv1d_silu_kernel<<<p.grid_x, p.threads, 0, s>>>(in, ld_in, T, C, int(K), w, b, conv_state, out);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
