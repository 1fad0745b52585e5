// The CUDA backend (backend.h's interface on device 0, one stream). Memory: activations and
// state are plain device memory (cudaMalloc, never managed memory: on a shared GPU machine
// page-faulting managed memory can stall the whole GPU); the host reaches them only through
// copy(), which stages host transfers through one pinned buffer. The op arguments that are
// weights (StoredMatrix bytes and scales, and the model's fp32 vectors: norms, biases, conv
// taps, A, D, dt_bias) are host memory, uploaded once and cached by host address until
// forget_weight(); the embedding table is the exception: its rows are gathered on the host
// and only those go up (the 9B's table is 1.2 GB). An activation argument that is not this
// backend's memory is an error (named), not a silent host read.
//
// Errors: every op checks its launch and names itself; with NEMOTRON_LAB_CUDA_SYNC=1 it also
// synchronises after each op, so a kernel fault is reported against the op that caused it.
// Errors are thrown (a JS exception at the N-API boundary), never an abort.
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cpu/fp8_codec.h"
#include "cpu/kernels.h"
#include "cuda/cuda_backend.h"
#include "cuda/kernels.h"

namespace nl {

namespace {


struct CudaBackend : Backend {
  cudaStream_t stream = nullptr;
  std::map<uintptr_t, size_t> owned;  // base -> bytes of alloc()'d memory
  struct Cached { void* dev; size_t bytes; };
  std::unordered_map<const void*, Cached> weights;
  void* staging = nullptr;  // pinned host memory for host <-> device copies
  size_t staging_bytes = 0;
  const bool debug_sync = std::getenv("NEMOTRON_LAB_CUDA_SYNC") && std::strcmp(std::getenv("NEMOTRON_LAB_CUDA_SYNC"), "0") != 0;

  CudaBackend() {
    CUDA_CHECK(cudaSetDevice(0));
    CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  }

  // After an op's launches: a bad launch is reported at once, named; a fault inside the
  // kernel surfaces at the next sync (at once with NEMOTRON_LAB_CUDA_SYNC=1).
  void done(const char* op) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && debug_sync) e = cudaStreamSynchronize(stream);
    if (e != cudaSuccess) throw Error(std::string("CUDA error in ") + op + ": " + cudaGetErrorString(e) + hint(e));
  }
  static std::string hint(cudaError_t e) {
    // A fault inside a kernel poisons the CUDA context: the process (and notebook) lives on,
    // but this backend cannot run again until the kernel is restarted.
    const bool sticky = e == cudaErrorIllegalAddress || e == cudaErrorLaunchFailure || e == cudaErrorIllegalInstruction ||
                        e == cudaErrorMisalignedAddress || e == cudaErrorAssert;
    return sticky ? " (the GPU context is unusable now: restart the kernel to use CUDA again)" : "";
  }
  void* stage(size_t bytes) {
    if (staging_bytes < bytes) {
      if (staging) cudaFreeHost(staging);
      staging = nullptr;
      staging_bytes = 0;
      CUDA_CHECK(cudaMallocHost(&staging, std::max<size_t>(bytes, size_t(1) << 20)));
      staging_bytes = std::max<size_t>(bytes, size_t(1) << 20);
    }
    return staging;
  }
  // Never destroyed (a process-wide object whose frees may run in late finalizers).

  const char* name() const override { return "cuda"; }
  bool is_host() const override { return false; }

  // --- memory ---
  void* alloc(size_t bytes) override {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, std::max<size_t>(bytes, 16));
    if (e != cudaSuccess) {
      cudaGetLastError();  // out of memory is not sticky: clear it
      size_t free_b = 0, total = 0;
      cudaMemGetInfo(&free_b, &total);
      throw Error("CUDA out of device memory allocating " + std::to_string(bytes >> 20) + " MiB (" +
                  std::to_string(free_b >> 20) + " MiB free of " + std::to_string(total >> 20) + "): " + cudaGetErrorString(e));
    }
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
    const bool dev_dst = owns(dst, bytes), dev_src = owns(src, bytes);
    if (dev_dst && dev_src) {
      CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream));
    } else if (dev_src) {  // device -> host, through pinned memory (done on return)
      void* p = stage(bytes);
      CUDA_CHECK(cudaMemcpyAsync(p, src, bytes, cudaMemcpyDeviceToHost, stream));
      sync();
      std::memcpy(dst, p, bytes);
    } else if (dev_dst) {  // host -> device (the host memory may change once this returns)
      void* p = stage(bytes);
      std::memcpy(p, src, bytes);
      CUDA_CHECK(cudaMemcpyAsync(dst, p, bytes, cudaMemcpyHostToDevice, stream));
      sync();
    } else {
      std::memcpy(dst, src, bytes);
    }
  }
  void zero(void* p, size_t bytes) override {
    NL_CHECK(owns(p, bytes), "cuda backend: zero() of memory it did not allocate");
    CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream));
  }
  void sync() override {
    const cudaError_t e = cudaStreamSynchronize(stream);
    if (e != cudaSuccess)
      throw Error(std::string("CUDA error in a queued op: ") + cudaGetErrorString(e) + hint(e) +
                  (debug_sync ? "" : "; set NEMOTRON_LAB_CUDA_SYNC=1 to report it against the op that caused it"));
  }
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
    done("linear");
  }
  // The rows are gathered and converted to fp32 on the host; only T rows go up.
  void embedding(const StoredMatrix& e, const int32_t* ids, int64_t T, float* out) override {
    std::vector<int32_t> h(static_cast<size_t>(T));
    copy(h.data(), ids, size_t(T) * 4);  // ids may be host or device memory
    for (int64_t t = 0; t < T; t++)
      NL_CHECK(h[t] >= 0 && h[t] < e.rows, "token id " + std::to_string(h[t]) + " outside the vocabulary [0, " + std::to_string(e.rows) + ")");
    act(out, T * e.cols, "embedding out");
    const size_t bytes = size_t(T * e.cols) * sizeof(float);
    float* rows = static_cast<float*>(stage(bytes));
    for (int64_t t = 0; t < T; t++) {
      float* row = rows + t * e.cols;
      to_f32(e.data, e.dtype, size_t(h[t] * e.cols), size_t(e.cols), row);
      if (e.scale)
        for (int64_t c = 0; c < e.cols; c++) row[c] *= e.scale_at(h[t], c);
    }
    CUDA_CHECK(cudaMemcpyAsync(out, rows, bytes, cudaMemcpyHostToDevice, stream));
    sync();  // the staging buffer is reused by the next copy
  }
  void rmsnorm(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y) override {
    cuda::rmsnorm(act(x, T * n, "rmsnorm x"), T, n, vec(w, n), eps, act(y, T * n, "rmsnorm y"), stream);
    done("rmsnorm");
  }
  void add_rmsnorm(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x) override {
    cuda::add_rmsnorm(act(h, T * n, "add_rmsnorm h"), act(y, T * n, "add_rmsnorm y"), T, n, vec(w, n), eps,
                      act(x, T * n, "add_rmsnorm x"), stream);
    done("add_rmsnorm");
  }
  void gated_rmsnorm(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group, const float* w,
                     float eps, float* out) override {
    cuda::gated_rmsnorm(act(y, T * n, "gated_rmsnorm y"), act(z, (T - 1) * ldz + n, "gated_rmsnorm z"), ldz, T, n, group,
                        vec(w, n), eps, act(out, T * n, "gated_rmsnorm out"), stream);
    done("gated_rmsnorm");
  }
  void conv1d_silu(const float* in, int64_t ld, int64_t T, int64_t C, int64_t K, const float* w, const float* b,
                   float* st, float* out) override {
    cuda::conv1d_silu(act(in, (T - 1) * ld + C, "conv1d in"), ld, T, C, K, vec(w, C * K), vec(b, C),
                      act(st, (K - 1) * C, "conv1d state"), act(out, T * C, "conv1d out"), stream);
    done("conv1d_silu");
  }
  void dt_softplus(const float* raw, int64_t ld, int64_t T, int64_t nh, const float* bias, float lo, float hi,
                   float* dt) override {
    cuda::dt_softplus(act(raw, (T - 1) * ld + nh, "dt_softplus raw"), ld, T, nh, vec(bias, nh), lo, hi,
                      act(dt, T * nh, "dt_softplus dt"), stream);
    done("dt_softplus");
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
  void ssd_scan(const SsdArgs& a) override { cuda::ssm_scan(dev_ssd(a), stream); done("ssd_scan"); }
  void ssm_step(const SsdArgs& a) override { cuda::ssm_scan(dev_ssd(a), stream); done("ssm_step"); }
  void attention(const AttnArgs& a) override {
    AttnArgs d = a;
    const size_t kb = size_t((a.past + a.T) * a.nkv * a.hd) * (a.kv_dtype == DType::BF16 ? 2 : 4);
    d.q = act(a.q, a.T * a.nq * a.hd, "attention q");
    d.k = act(static_cast<const uint8_t*>(a.k), int64_t(kb), "attention k");
    d.v = act(static_cast<const uint8_t*>(a.v), int64_t(kb), "attention v");
    d.out = act(a.out, a.T * a.nq * a.hd, "attention out");
    cuda::attention(d, stream);
    done("attention");
  }
  void relu2(float* x, int64_t n) override { cuda::relu2(act(x, n, "relu2 x"), n, stream); done("relu2"); }
  void add(float* h, const float* y, int64_t n) override { cuda::add(act(h, n, "add h"), act(y, n, "add y"), n, stream); done("add"); }

  // Small device buffers for op arguments that come from the host (index lists, weights) or go
  // back to it (a reduction's result): grown on demand, kept.
  void* small_dev = nullptr;
  size_t small_bytes = 0;
  void* small(size_t bytes) {
    if (small_bytes < bytes) {
      sync();  // a queued op may still read the old buffer
      if (small_dev) cudaFree(small_dev);
      small_dev = nullptr;
      small_bytes = 0;
      CUDA_CHECK(cudaMalloc(&small_dev, std::max<size_t>(bytes, 4096)));
      small_bytes = std::max<size_t>(bytes, 4096);
    }
    return small_dev;
  }
  // Host arrays of an op, uploaded into small(): returns their device copies, in order.
  template <class A, class B>
  std::pair<const A*, const B*> upload(const A* a, int64_t na, const B* b, int64_t nb) {
    const size_t ba = size_t(na) * sizeof(A), off = (ba + 255) / 256 * 256, bb = size_t(nb) * sizeof(B);
    char* dev = static_cast<char*>(small(off + bb));
    char* host = static_cast<char*>(stage(off + bb));
    std::memcpy(host, a, ba);
    if (b) std::memcpy(host + off, b, bb);
    CUDA_CHECK(cudaMemcpyAsync(dev, host, off + bb, cudaMemcpyHostToDevice, stream));
    sync();  // the staging buffer is reused by the next copy
    return {reinterpret_cast<const A*>(dev), b ? reinterpret_cast<const B*>(dev + off) : nullptr};
  }

  float amax(const float* x, int64_t ld, int64_t T, int64_t n) override {
    unsigned* out = static_cast<unsigned*>(small(sizeof(unsigned)));
    cuda::amax(act(x, T > 0 ? (T - 1) * ld + n : 0, "amax x"), ld, T, n, out, stream);
    done("amax");
    CUDA_CHECK(cudaMemcpyAsync(stage(4), out, 4, cudaMemcpyDeviceToHost, stream));
    sync();
    float a;
    std::memcpy(&a, staging, 4);
    return a;
  }
  void fake_quant_fp8(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dyn, float scale, float* y,
                      int64_t ldy) override {
    cuda::fake_quant_fp8(act(x, T > 0 ? (T - 1) * ld + n : 0, "fake_quant_fp8 x"), ld, T, n, f, dyn, scale,
                         act(y, T > 0 ? (T - 1) * ldy + n : 0, "fake_quant_fp8 y"), ldy, stream);
    done("fake_quant_fp8");
  }
  void round_to(float* x, int64_t n, DType storage) override {
    NL_CHECK(storage == DType::BF16 || storage == DType::F16, "round_to: storage must be BF16 or F16");
    cuda::round_to(act(x, n, "round_to x"), n, storage == DType::BF16, stream);
    done("round_to");
  }
  void to_storage(const float* x, int64_t n, DType storage, void* dst) override {
    NL_CHECK(storage == DType::F32 || storage == DType::BF16, "to_storage: storage must be F32 or BF16");
    act(x, n, "to_storage x");
    if (storage == DType::F32) {
      copy(act(static_cast<float*>(dst), n, "to_storage dst"), x, size_t(n) * sizeof(float));
      return;
    }
    cuda::to_bf16(x, n, act(static_cast<uint16_t*>(dst), n, "to_storage dst"), stream);
    done("to_storage");
  }
  // Only the id comes back: the logits row stays on the device.
  void* sample_dev = nullptr;  // work row (n floats), probabilities (n doubles), the result
  size_t sample_bytes = 0;
  int32_t sample(const float* logits, int64_t n, const SampleArgs& a) override {
    act(logits, n, "sample logits");
    check_sample_args(n, a);
    std::vector<int32_t> ctx;  // distinct ids (the kernel's threads write one logit each)
    if (a.repetition_penalty != 1 && a.n_context > 0) {
      std::vector<char> seen(size_t(n), 0);
      for (int64_t j = 0; j < a.n_context; j++) {
        const int32_t id = a.context[j];
        if (id >= 0 && id < n && !seen[size_t(id)]) { seen[size_t(id)] = 1; ctx.push_back(id); }
      }
    }
    const int32_t* dctx = ctx.empty() ? nullptr : upload<int32_t, float>(ctx.data(), int64_t(ctx.size()), nullptr, 0).first;
    SampleArgs d = a;
    d.n_context = int64_t(ctx.size());
    const size_t probs_at = (size_t(n) * 4 + 255) / 256 * 256, out_at = probs_at + size_t(n) * 8, need = out_at + 256;
    if (sample_bytes < need) {
      sync();  // a queued sample may still use the old buffer
      if (sample_dev) cudaFree(sample_dev);
      sample_dev = nullptr;
      sample_bytes = 0;
      CUDA_CHECK(cudaMalloc(&sample_dev, need));
      sample_bytes = need;
    }
    char* base = static_cast<char*>(sample_dev);
    cuda::sample(logits, n, d, dctx, reinterpret_cast<float*>(base), reinterpret_cast<double*>(base + probs_at),
                 reinterpret_cast<int*>(base + out_at), stream);
    done("sample");
    CUDA_CHECK(cudaMemcpyAsync(stage(4), base + out_at, 4, cudaMemcpyDeviceToHost, stream));
    sync();
    int32_t id;
    std::memcpy(&id, staging, 4);
    NL_CHECK(id >= 0, "sample: every logit is -Infinity (all tokens were filtered out)");
    return id;
  }

  // The router decides the shapes the host launches: the gate logits (T×E floats) come back
  // and the host router runs on them (cpu/moe.cc); the expert rows stay on the device.
  void moe_route(const float* logits, int64_t T, const MoeRouting& r, int32_t* experts, float* weights) override {
    std::vector<float> h(size_t(T * r.E));
    copy(h.data(), act(logits, T * r.E, "moe_route logits"), h.size() * sizeof(float));
    moe_route_host(h.data(), T, r, experts, weights);
  }
  void gather_rows(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst) override {
    if (n == 0) return;
    const auto dev = upload<int32_t, float>(rows, n, nullptr, 0);
    cuda::gather_rows(act(src, cols, "gather_rows src"), cols, dev.first, n, act(dst, n * cols, "gather_rows dst"), stream);
    done("gather_rows");
  }
  void scatter_add_rows(const float* src, int64_t cols, const int32_t* rows, const float* w, int64_t n, float* dst) override {
    if (n == 0) return;
    const auto dev = upload(rows, n, w, n);
    cuda::scatter_add_rows(act(src, n * cols, "scatter_add_rows src"), cols, dev.first, dev.second, n,
                           act(dst, cols, "scatter_add_rows dst"), stream);
    done("scatter_add_rows");
  }
};

}  // namespace

Backend& cuda_backend() {
  static CudaBackend* b = new CudaBackend();
  return *b;
}

}  // namespace nl
