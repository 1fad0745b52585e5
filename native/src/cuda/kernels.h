// Host-side launchers of the CUDA kernels (one .cu file per op family), called by
// backend.cu with device pointers, all on one stream. Shapes as in backend.h.
#pragma once
#include <cuda_runtime.h>

#include "../backend.h"
#include "cuda/common.cuh"

namespace nl {
namespace cuda {

// linear.cu: y (T, rows) = x (T, cols) · Wᵀ (+ bias)
void linear(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y, cudaStream_t s);
// elementwise.cu
void relu2(float* x, int64_t n, cudaStream_t s);
void add(float* h, const float* y, int64_t n, cudaStream_t s);
// norm.cu
void rmsnorm(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y, cudaStream_t s);
void add_rmsnorm(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x, cudaStream_t s);
void gated_rmsnorm(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group, const float* w,
                   float eps, float* out, cudaStream_t s);
// conv.cu
void conv1d_silu(const float* in, int64_t ld_in, int64_t T, int64_t C, int64_t K, const float* w, const float* b,
                 float* conv_state, float* out, cudaStream_t s);
// mamba.cu
void dt_softplus(const float* raw, int64_t ld_raw, int64_t T, int64_t nh, const float* bias, float lo, float hi,
                 float* dt, cudaStream_t s);
void ssm_scan(const SsdArgs& a, cudaStream_t s);  // T >= 1 tokens from a.state
// attention.cu
void attention(const AttnArgs& a, cudaStream_t s);
// activation_quant.cu (out: one device unsigned, the amax's float bits)
void amax(const float* x, int64_t ld, int64_t T, int64_t n, unsigned* out, cudaStream_t s);
void fake_quant_fp8(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale, float* y,
                    int64_t ldy, cudaStream_t s);
void round_to(float* x, int64_t n, bool bf16, cudaStream_t s);
void to_bf16(const float* x, int64_t n, uint16_t* dst, cudaStream_t s);
// sample.cu: out[0] = the token (or -1: every logit -inf); context (a.n_context distinct ids),
// work (n floats), probs (n doubles) and out are device memory
void sample(const float* logits, int64_t n, const SampleArgs& a, const int32_t* context, float* work, double* probs, int* out,
            cudaStream_t s);
// moe.cu (rows and w in device memory)
void gather_rows(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst, cudaStream_t s);
void scatter_add_rows(const float* src, int64_t cols, const int32_t* rows, const float* w, int64_t n, float* dst,
                      cudaStream_t s);

}  // namespace cuda
}  // namespace nl
