// The two CPU implementations of the backend interface (backend.h): "cpu" runs the fast
// kernels, "reference" the plain ones, so a whole forward pass can run on either.
#include "cpu/kernels.h"

namespace nl {

namespace {

struct CpuBackend : Backend {
  const char* name() const override { return "cpu"; }
  void linear(const float* x, int64_t T, const WeightView& w, const float* bias, float* y) override { linear_fast(x, T, w, bias, y); }
  void embedding(const WeightView& e, const int32_t* ids, int64_t T, float* out) override { embedding_fast(e, ids, T, out); }
  void rmsnorm(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y) override { rmsnorm_fast(x, T, n, w, eps, y); }
  void gated_rmsnorm(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group, const float* w,
                     float eps, float* out) override { gated_rmsnorm_fast(y, z, ldz, T, n, group, w, eps, out); }
  void conv1d_silu(const float* in, int64_t ld, int64_t T, int64_t C, int64_t K, const float* w, const float* b,
                   float* st, float* out) override { conv1d_silu_fast(in, ld, T, C, K, w, b, st, out); }
  void dt_softplus(const float* raw, int64_t ld, int64_t T, int64_t nh, const float* bias, float lo, float hi,
                   float* dt) override { dt_softplus_fast(raw, ld, T, nh, bias, lo, hi, dt); }
  void ssd_scan(const SsdArgs& a) override { ssd_scan_fast(a); }
  void ssm_step(const SsdArgs& a) override { ssm_step_fast(a); }
  void attention(const AttnArgs& a) override { attention_fast(a); }
  void relu2(float* x, int64_t n) override { relu2_fast(x, n); }
  void add(float* h, const float* y, int64_t n) override { add_fast(h, y, n); }
};

struct ReferenceBackend : Backend {
  const char* name() const override { return "reference"; }
  void linear(const float* x, int64_t T, const WeightView& w, const float* bias, float* y) override { linear_reference(x, T, w, bias, y); }
  void embedding(const WeightView& e, const int32_t* ids, int64_t T, float* out) override { embedding_reference(e, ids, T, out); }
  void rmsnorm(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y) override { rmsnorm_reference(x, T, n, w, eps, y); }
  void gated_rmsnorm(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group, const float* w,
                     float eps, float* out) override { gated_rmsnorm_reference(y, z, ldz, T, n, group, w, eps, out); }
  void conv1d_silu(const float* in, int64_t ld, int64_t T, int64_t C, int64_t K, const float* w, const float* b,
                   float* st, float* out) override { conv1d_silu_reference(in, ld, T, C, K, w, b, st, out); }
  void dt_softplus(const float* raw, int64_t ld, int64_t T, int64_t nh, const float* bias, float lo, float hi,
                   float* dt) override { dt_softplus_reference(raw, ld, T, nh, bias, lo, hi, dt); }
  void ssd_scan(const SsdArgs& a) override { ssm_sequential_reference(a); }
  void ssm_step(const SsdArgs& a) override { ssm_sequential_reference(a); }
  void attention(const AttnArgs& a) override { attention_reference(a); }
  void relu2(float* x, int64_t n) override { relu2_reference(x, n); }
  void add(float* h, const float* y, int64_t n) override { add_reference(h, y, n); }
};

}  // namespace

Backend& cpu_backend() { static CpuBackend b; return b; }
Backend& reference_backend() { static ReferenceBackend b; return b; }

}  // namespace nl
