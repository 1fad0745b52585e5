// The CUDA backend (backend.h's interface on device 0, one stream). Memory: activations and
// state are managed memory from alloc(), so the host can still read them after sync() and
// copy() works between any two addresses; the op arguments that are weights (StoredMatrix
// bytes and scales, and the model's fp32 vectors: norms, biases, conv taps, A, D, dt_bias)
// are host memory, uploaded once into plain device memory and cached by host address
// until forget_weight(). An activation argument that is not this backend's memory is an
// error (named), not a silent host read.
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cuda/cuda_backend.h"
#include "cuda/kernels.h"

namespace nl {

namespace {

struct CudaBackend : Backend {
  cudaStream_t stream = nullptr;
  std::map<uintptr_t, size_t> owned;  // base -> bytes of alloc()'d memory
  struct Cached { void* dev; size_t bytes; };
  std::unordered_map<const void*, Cached> weights;
  int32_t* ids_dev = nullptr;  // token ids of the current call
  int64_t ids_cap = 0;

  CudaBackend() {
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  }
  // Never destroyed (a process-wide object whose frees may run in late finalizers).

  const char* name() const override { return "cuda"; }
  bool is_host() const override { return false; }

  // --- memory ---
  void* alloc(size_t bytes) override {
    void* p = nullptr;
    CUDA_CHECK(cudaMallocManaged(&p, std::max<size_t>(bytes, 16)));
    owned[uintptr_t(p)] = std::max<size_t>(bytes, 16);
    return p;
  }
  void free(void* p) override {
    if (!p) return;
    owned.erase(uintptr_t(p));
    cudaFree(p);  // errors ignored: may run while the process and the runtime shut down
  }
  bool owns(const void* p, size_t bytes = 1) const {
    auto it = owned.upper_bound(uintptr_t(p));
    if (it == owned.begin()) return false;
    --it;
    return uintptr_t(p) + bytes <= it->first + it->second;
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (!bytes || dst == src) return;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, stream));
    if (!owns(dst, bytes) || !owns(src, bytes)) sync();  // host memory involved: done on return
  }
  void zero(void* p, size_t bytes) override {
    NL_CHECK(owns(p, bytes), "cuda backend: zero() of memory it did not allocate");
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream));
  }
  void sync() override { CUDA_CHECK(cudaStreamSynchronize(stream)); }
  void forget_weight(const void* data) override {
    auto it = weights.find(data);
    if (it == weights.end()) return;
    cudaStreamSynchronize(stream);  // a queued kernel may still read it
    cudaFree(it->second.dev);
    weights.erase(it);
  }

  // --- argument mapping ---
  // An activation: must be this backend's memory.
  template <class T>
  T* act(T* p, int64_t count, const char* what) {
    if (!p) return p;
    NL_CHECK(owns(p, size_t(std::max<int64_t>(count, 1)) * sizeof(*p)),
             std::string("cuda backend: ") + what + " is not memory from the backend's alloc() (host pointers are weights only)");
    return p;
  }
  // A weight or fp32 vector: used in place if already device memory, else uploaded once.
  const void* weight(const void* host, size_t bytes) {
    if (!host) return nullptr;
    if (owns(host, bytes)) return host;
    auto it = weights.find(host);
    if (it != weights.end()) {
      if (it->second.bytes == bytes) return it->second.dev;
      forget_weight(host);  // same address, other size: a different weight
    }
    void* dev = nullptr;
    CUDA_CHECK(cudaMalloc(&dev, std::max<size_t>(bytes, 16)));
    weights[host] = {dev, bytes};
    CUDA_CHECK(cudaMemcpyAsync(dev, host, bytes, cudaMemcpyHostToDevice, stream));
    sync();  // the host memory may change after this call returns
    return dev;
  }
  const float* vec(const float* host, int64_t n) {
    return static_cast<const float*>(weight(host, size_t(n) * sizeof(float)));
  }
  // The weight with its data and scale grid in device memory (uploaded once, cached).
  StoredMatrix dev_weight(const StoredMatrix& w) {
    NL_CHECK(w.data && w.rows > 0 && w.cols > 0, "cuda backend: empty weight");
    NL_CHECK(!w.scale || (w.block_rows > 0 && w.block_cols > 0), "scale block sizes must be positive");
    StoredMatrix d = w;
    d.data = static_cast<const uint8_t*>(weight(w.data, size_t(w.bytes())));
    d.scale = w.scale ? vec(w.scale, w.scale_count()) : nullptr;
    return d;
  }

  // --- ops ---
  void linear(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y) override {
    StoredMatrix d = dev_weight(w);
    cuda::linear(act(x, T * w.cols, "linear x"), T, d, vec(bias, w.rows), act(y, T * w.rows, "linear y"), stream);
  }
  void embedding(const StoredMatrix& e, const int32_t* ids, int64_t T, float* out) override {
    // ids are few: checked on the host (they may be host or managed memory), then copied.
    std::vector<int32_t> h(static_cast<size_t>(T));
    copy(h.data(), ids, size_t(T) * 4);
    for (int64_t t = 0; t < T; t++)
      NL_CHECK(h[t] >= 0 && h[t] < e.rows, "token id " + std::to_string(h[t]) + " outside the vocabulary [0, " + std::to_string(e.rows) + ")");
    if (ids_cap < T) {
      if (ids_dev) free(ids_dev);
      ids_dev = static_cast<int32_t*>(alloc(size_t(T) * 4));
      ids_cap = T;
    }
    copy(ids_dev, h.data(), size_t(T) * 4);
    cuda::embedding(dev_weight(e), ids_dev, T, act(out, T * e.cols, "embedding out"), stream);
  }
  void rmsnorm(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y) override {
    cuda::rmsnorm(act(x, T * n, "rmsnorm x"), T, n, vec(w, n), eps, act(y, T * n, "rmsnorm y"), stream);
  }
  void gated_rmsnorm(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group, const float* w,
                     float eps, float* out) override {
    cuda::gated_rmsnorm(act(y, T * n, "gated_rmsnorm y"), act(z, (T - 1) * ldz + n, "gated_rmsnorm z"), ldz, T, n, group,
                        vec(w, n), eps, act(out, T * n, "gated_rmsnorm out"), stream);
  }
  void conv1d_silu(const float* in, int64_t ld, int64_t T, int64_t C, int64_t K, const float* w, const float* b,
                   float* st, float* out) override {
    cuda::conv1d_silu(act(in, (T - 1) * ld + C, "conv1d in"), ld, T, C, K, vec(w, C * K), vec(b, C),
                      act(st, (K - 1) * C, "conv1d state"), act(out, T * C, "conv1d out"), stream);
  }
  void dt_softplus(const float* raw, int64_t ld, int64_t T, int64_t nh, const float* bias, float lo, float hi,
                   float* dt) override {
    cuda::dt_softplus(act(raw, (T - 1) * ld + nh, "dt_softplus raw"), ld, T, nh, vec(bias, nh), lo, hi,
                      act(dt, T * nh, "dt_softplus dt"), stream);
  }
  SsdArgs dev_ssd(const SsdArgs& a) {
    SsdArgs d = a;
    d.x = act(a.x, (a.T - 1) * a.ldx + a.nh * a.P, "ssm x");
    d.B = act(a.B, (a.T - 1) * a.ldbc + a.G * a.N, "ssm B");
    d.C = act(a.C, (a.T - 1) * a.ldbc + a.G * a.N, "ssm C");
    d.dt = act(a.dt, a.T * a.nh, "ssm dt");
    d.A = vec(a.A, a.nh);
    d.D = vec(a.D, a.nh);
    d.state = act(a.state, a.nh * a.P * a.N, "ssm state");
    d.y = act(a.y, a.T * a.nh * a.P, "ssm y");
    return d;
  }
  void ssd_scan(const SsdArgs& a) override { cuda::ssm_scan(dev_ssd(a), stream); }
  void ssm_step(const SsdArgs& a) override { cuda::ssm_scan(dev_ssd(a), stream); }
  void attention(const AttnArgs& a) override {
    AttnArgs d = a;
    const int64_t nk = (a.past + a.T) * a.nkv * a.hd;
    d.q = act(a.q, a.T * a.nq * a.hd, "attention q");
    d.k = act(a.k, nk, "attention k");
    d.v = act(a.v, nk, "attention v");
    d.out = act(a.out, a.T * a.nq * a.hd, "attention out");
    cuda::attention(d, stream);
  }
  void relu2(float* x, int64_t n) override { cuda::relu2(act(x, n, "relu2 x"), n, stream); }
  void add(float* h, const float* y, int64_t n) override { cuda::add(act(h, n, "add h"), act(y, n, "add y"), n, stream); }
};

}  // namespace

Backend& cuda_backend() {
  static CudaBackend* b = new CudaBackend();
  return *b;
}

}  // namespace nl
