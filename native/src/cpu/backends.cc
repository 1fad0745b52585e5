// The two CPU implementations of the backend interface (backend.h): "cpu" runs the fast
// kernels, "reference" the plain ones, so a whole forward pass can run on either. Also the
// default (host) memory of the interface and the lookup of a backend by name.
#include <cstdlib>
#include <cstring>

#include "cpu/kernels.h"
#ifdef NL_WITH_CUDA
#include "cuda/cuda_backend.h"
#include "cuda/device.h"
#endif

namespace nl {

// 64-byte aligned (one cache line, a 16-float vector), rounded up as aligned_alloc requires.
void* Backend::alloc(size_t bytes) {
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64 + (bytes == 0 ? 64 : 0));
  NL_CHECK(p, "out of memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}
void Backend::free(void* p) { std::free(p); }
void Backend::copy(void* dst, const void* src, size_t bytes) {
  if (bytes && dst != src) std::memcpy(dst, src, bytes);
}
void Backend::zero(void* p, size_t bytes) { std::memset(p, 0, bytes); }

Backend& backend_named(const std::string& name) {
  if (name == "cpu") return cpu_backend();
  if (name == "reference") return reference_backend();
  if (name == "cuda") {
#ifdef NL_WITH_CUDA
    CudaInfo ci = cuda_info();
    NL_CHECK(ci.devices > 0, "no CUDA device (" + (ci.error.empty() ? std::string("cudaGetDeviceCount found none") : ci.error) + ")");
    return cuda_backend();
#else
    NL_CHECK(false, "no CUDA device (this addon was built without nvcc)");
#endif
  }
  NL_CHECK(false, "unknown backend '" + name + "'; expected cpu, reference or cuda");
  return cpu_backend();
}

namespace {

struct CpuBackend : Backend {
  const char* name() const override { return "cpu"; }
  void linear(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y) override { linear_fast(x, T, w, bias, y); }
  void embedding(const StoredMatrix& e, const int32_t* ids, int64_t T, float* out) override { embedding_fast(e, ids, T, out); }
  void rmsnorm(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y) override { rmsnorm_fast(x, T, n, w, eps, y); }
  void add_rmsnorm(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x) override {
    add_rmsnorm_fast(h, y, T, n, w, eps, x);
  }
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
  float amax(const float* x, int64_t ld, int64_t T, int64_t n) override { return amax_fast(x, ld, T, n); }
  void fake_quant_fp8(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dyn, float s, float* y,
                      int64_t ldy) override {
    fake_quant_fp8_fast(x, ld, T, n, f, dyn, s, y, ldy);
  }
  void round_to(float* x, int64_t n, DType storage) override { round_to_fast(x, n, storage); }
  void to_storage(const float* x, int64_t n, DType storage, void* dst) override { to_storage_fast(x, n, storage, dst); }
  int32_t sample(const float* logits, int64_t n, const SampleArgs& a) override { return sample_fast(logits, n, a); }
  void moe_route(const float* l, int64_t T, const MoeRouting& r, int32_t* e, float* w) override { moe_route_host(l, T, r, e, w); }
  void gather_rows(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst) override {
    gather_rows_fast(src, cols, rows, n, dst);
  }
  void scatter_add_rows(const float* src, int64_t cols, const int32_t* rows, const float* w, int64_t n, float* dst) override {
    scatter_add_rows_fast(src, cols, rows, w, n, dst);
  }
};

struct ReferenceBackend : Backend {
  const char* name() const override { return "reference"; }
  void linear(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y) override { linear_reference(x, T, w, bias, y); }
  void embedding(const StoredMatrix& e, const int32_t* ids, int64_t T, float* out) override { embedding_reference(e, ids, T, out); }
  void rmsnorm(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y) override { rmsnorm_reference(x, T, n, w, eps, y); }
  void add_rmsnorm(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x) override {
    add_rmsnorm_reference(h, y, T, n, w, eps, x);
  }
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
  float amax(const float* x, int64_t ld, int64_t T, int64_t n) override { return amax_reference(x, ld, T, n); }
  void fake_quant_fp8(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dyn, float s, float* y,
                      int64_t ldy) override {
    fake_quant_fp8_reference(x, ld, T, n, f, dyn, s, y, ldy);
  }
  void round_to(float* x, int64_t n, DType storage) override { round_to_reference(x, n, storage); }
  void to_storage(const float* x, int64_t n, DType storage, void* dst) override { to_storage_reference(x, n, storage, dst); }
  int32_t sample(const float* logits, int64_t n, const SampleArgs& a) override { return sample_reference(logits, n, a); }
  void moe_route(const float* l, int64_t T, const MoeRouting& r, int32_t* e, float* w) override { moe_route_host(l, T, r, e, w); }
  void gather_rows(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst) override {
    gather_rows_reference(src, cols, rows, n, dst);
  }
  void scatter_add_rows(const float* src, int64_t cols, const int32_t* rows, const float* w, int64_t n, float* dst) override {
    scatter_add_rows_reference(src, cols, rows, w, n, dst);
  }
};

}  // namespace

Backend& cpu_backend() { static CpuBackend b; return b; }
Backend& reference_backend() { static ReferenceBackend b; return b; }

}  // namespace nl
