// The CPU kernels behind the two CPU backends (cpu/backends.cc): a fast version
// (multi-threaded, vectorised) and a plain reference of every op. Shapes as in backend.h.
#pragma once
#include "backend.h"

namespace nl {

void check_weight(const StoredMatrix& w);

// Σ a·b and y += alpha·x over n floats (cpu/vector_ops.cc).
float dot_f32(const float* a, const float* b, int64_t n);
void axpy_f32(float alpha, const float* x, float* y, int64_t n);

void linear_fast(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y);
void linear_reference(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y);
void embedding_fast(const StoredMatrix& e, const int32_t* ids, int64_t T, float* out);
void embedding_reference(const StoredMatrix& e, const int32_t* ids, int64_t T, float* out);

void rmsnorm_fast(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y);
void rmsnorm_reference(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y);
void add_rmsnorm_fast(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x);
void add_rmsnorm_reference(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x);
void gated_rmsnorm_fast(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group,
                        const float* w, float eps, float* out);
void gated_rmsnorm_reference(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group,
                             const float* w, float eps, float* out);

void conv1d_silu_fast(const float* in, int64_t ld_in, int64_t T, int64_t C, int64_t K, const float* w,
                      const float* b, float* conv_state, float* out);
void conv1d_silu_reference(const float* in, int64_t ld_in, int64_t T, int64_t C, int64_t K, const float* w,
                           const float* b, float* conv_state, float* out);
void dt_softplus_fast(const float* raw, int64_t ld_raw, int64_t T, int64_t nh, const float* bias, float lo, float hi,
                      float* dt);
void dt_softplus_reference(const float* raw, int64_t ld_raw, int64_t T, int64_t nh, const float* bias, float lo,
                           float hi, float* dt);
void ssd_scan_fast(const SsdArgs& a);
void ssm_step_fast(const SsdArgs& a);
void ssm_sequential_reference(const SsdArgs& a);  // the recurrence, token by token (both ops)

void attention_fast(const AttnArgs& a);
void attention_reference(const AttnArgs& a);

void relu2_fast(float* x, int64_t n);
void relu2_reference(float* x, int64_t n);
void add_fast(float* h, const float* y, int64_t n);
void add_reference(float* h, const float* y, int64_t n);

// cpu/activation_quant.cc
float amax_fast(const float* x, int64_t ld, int64_t T, int64_t n);
float amax_reference(const float* x, int64_t ld, int64_t T, int64_t n);
void fake_quant_fp8_fast(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale, float* y,
                         int64_t ldy);
void fake_quant_fp8_reference(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale,
                              float* y, int64_t ldy);
void round_to_fast(float* x, int64_t n, DType storage);
void round_to_reference(float* x, int64_t n, DType storage);
void to_storage_fast(const float* x, int64_t n, DType storage, void* dst);
void to_storage_reference(const float* x, int64_t n, DType storage, void* dst);

// cpu/sample.cc (the argument check is every backend's)
void check_sample_args(int64_t n, const SampleArgs& a);
int32_t sample_fast(const float* logits, int64_t n, const SampleArgs& a);
int32_t sample_reference(const float* logits, int64_t n, const SampleArgs& a);

// cpu/moe.cc (the router is one host function for every backend)
void moe_route_host(const float* logits, int64_t T, const MoeRouting& r, int32_t* experts, float* weights);
void gather_rows_fast(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst);
void gather_rows_reference(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst);
void scatter_add_rows_fast(const float* src, int64_t cols, const int32_t* rows, const float* weights, int64_t n,
                           float* dst);
void scatter_add_rows_reference(const float* src, int64_t cols, const int32_t* rows, const float* weights, int64_t n,
                                float* dst);

}  // namespace nl
