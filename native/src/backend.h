// The backend interface: the closed vocabulary of ops the NemotronH forward pass needs
// (after ggml-backend). The model (model/nemotron_h.cc) only ever calls these; the CPU
// backend (cpu/*.cc, multi-threaded, SIMD) and the reference backend (plain scalar code,
// the readable definition of each op, llm.c style) implement it, and so does the CUDA
// backend (cuda/backend.cu). The op list is mirrored in TypeScript by src/backend/native.ts.
//
// Conventions: activations are fp32, row-major; a weight is a StoredMatrix (stored_matrix.h):
// [rows, cols] in its stored dtype (F32, BF16, F16, FP8 E4M3/E5M2) with an optional fp32
// scale per [block_rows, block_cols] block, converted to fp32 inside the kernel (never copied).
// Accumulation is fp32 in the fast kernels and fp64 in the references.
//
// Memory (after ggml-backend's buffers): activations and per-sequence state are allocated
// through the backend (alloc/free), so a device backend can place them where its kernels
// run; plain host pointers are valid activations only where is_host(). Weights stay host
// views (mapped files, JS buffers): a device backend uploads each once and caches it by
// host address, so whoever replaces or frees a weight calls forget_weight(data).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "fp8.h"
#include "stored_matrix.h"

namespace nl {

// Arguments of the Mamba-2 selective scan (prefill and one-token step share them).
struct SsdArgs {
  const float* x;   // (T, nh*P) with row stride ldx: the conv output's x part
  const float* B;   // (T, G*N)  with row stride ldbc
  const float* C;   // (T, G*N)  with row stride ldbc
  int64_t ldx, ldbc;
  const float* dt;  // (T, nh) contiguous, already softplus'd (and clamped)
  const float* A;   // (nh) negative
  const float* D;   // (nh)
  int64_t T, nh, P, G, N, chunk;
  float* state;     // (nh, P, N) fp32, read and updated
  float* y;         // (T, nh*P) contiguous
};

// Causal attention of T new queries over a cache holding past + T positions.
struct AttnArgs {
  const float* q;   // (T, nq*hd)
  const void* k;    // (past+T, nkv*hd) cache in kv_dtype, new keys already appended
  const void* v;    // (past+T, nkv*hd)
  int64_t T, past, nq, nkv, hd;
  float scale;
  float* out;       // (T, nq*hd)
  DType kv_dtype = DType::F32;  // the cache's storage: F32 or BF16 (read back exactly, math in fp32)
};

// The MoE router's settings (docs/model.md section 6). `correction` is the gate's
// e_score_correction_bias (E fp32, a weight: host memory), or null.
struct MoeRouting {
  int64_t E, k, n_group, topk_group;
  bool norm_topk;
  float scale;  // routed_scaling_factor
  const float* correction;
};

// One draw of the next token from a logits row, with src/generate/sampling.ts's chain and
// semantics (transformers' order): repetition penalty, then temperature 0 = greedy (argmax,
// lowest id on ties), else temperature, top-k (ties at the k-th value kept), top-p (nucleus,
// ties at the bar taken lowest id first), min-p, and the inverse-CDF draw at u. u comes from
// the host's seeded stream, so a backend's choice is deterministic and every backend picks
// the same token for the same u (up to rounding exactly at a boundary).
struct SampleArgs {
  double temperature = 0;         // 0: greedy
  int64_t top_k = 0;              // 0: off
  double top_p = 1;               // 1: off
  double min_p = 0;               // 0: off
  double repetition_penalty = 1;  // 1: off
  const int32_t* context = nullptr;  // host array of distinct ids the penalty applies to
  int64_t n_context = 0;
  double u = 0;                   // uniform in [0, 1)
};

struct Backend {
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // --- memory (defaults: aligned host memory; cpu/backends.cc) ---
  // Whether host pointers can be passed as activations (ggml_backend_buffer_is_host).
  virtual bool is_host() const { return true; }
  // Memory for activations and state (the CUDA backend's is device memory).
  virtual void* alloc(size_t bytes);
  virtual void free(void* p);  // never throws (runs in finalizers)
  // dst <- src; either may be host memory or this backend's; returns once dst is readable.
  virtual void copy(void* dst, const void* src, size_t bytes);
  virtual void zero(void* p, size_t bytes);
  // Waits for queued work (and reports its errors).
  virtual void sync() {}
  // A cached device copy of the weight (or fp32 vector) at this host address is stale.
  virtual void forget_weight(const void* /*data*/) {}

  // --- ops ---
  // y (T, w.rows) = x (T, w.cols) · wᵀ (+ bias)
  virtual void linear(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y) = 0;
  // out (T, table.cols) = table[ids]
  virtual void embedding(const StoredMatrix& table, const int32_t* ids, int64_t T, float* out) = 0;
  // y (T, n) = x / sqrt(mean(x²) + eps) * w
  virtual void rmsnorm(const float* x, int64_t T, int64_t n, const float* w, float eps, float* y) = 0;
  // h (T, n) += y, then x (T, n) = rmsnorm(h) * w: the residual add and the next norm in one pass
  // (the same values as add then rmsnorm)
  virtual void add_rmsnorm(float* h, const float* y, int64_t T, int64_t n, const float* w, float eps, float* x) = 0;
  // out (T, n) = groupnorm_rms(y * silu(z)) * w, over contiguous groups of `group` channels; z has row stride ldz
  virtual void gated_rmsnorm(const float* y, const float* z, int64_t ldz, int64_t T, int64_t n, int64_t group,
                             const float* w, float eps, float* out) = 0;
  // out (T, C) = silu(causal depthwise conv over [conv_state; in] + b); conv_state (K-1, C) is advanced.
  // `in` has row stride ld_in. T == 1 is the decode step.
  virtual void conv1d_silu(const float* in, int64_t ld_in, int64_t T, int64_t C, int64_t K, const float* w,
                           const float* b, float* conv_state, float* out) = 0;
  // dt (T, nh) = clamp(softplus(raw + bias), lo, hi); raw has row stride ld_raw
  virtual void dt_softplus(const float* raw, int64_t ld_raw, int64_t T, int64_t nh, const float* bias, float lo,
                           float hi, float* dt) = 0;
  // Selective scan over T tokens from args.state (chunked SSD), and the one-token update.
  virtual void ssd_scan(const SsdArgs& a) = 0;
  virtual void ssm_step(const SsdArgs& a) = 0;
  virtual void attention(const AttnArgs& a) = 0;
  // x = relu(x)²
  virtual void relu2(float* x, int64_t n) = 0;
  // h += y
  virtual void add(float* h, const float* y, int64_t n) = 0;

  // --- precision what-ifs: FP8 activations (W8A8, docs/fp8.md), narrower SSM / KV state ---
  // The largest |x| over T rows of n values (row stride ld), NaN and infinities skipped.
  virtual float amax(const float* x, int64_t ld, int64_t T, int64_t n) = 0;
  // y (T, n) = decode(encode(x / s)) · s in FP8 format f, nearest-even, saturating at the
  // format's max; s = scale, or if dynamic each row's own max|x| / fmax (1 for a row of zeros
  // or with an infinity). Row strides ld (x) and ldy (y); y may be x.
  virtual void fake_quant_fp8(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale,
                              float* y, int64_t ldy) = 0;
  // x (n) = x rounded to `storage` (BF16 or F16, nearest-even) and read back as fp32.
  virtual void round_to(float* x, int64_t n, DType storage) = 0;
  // dst (n values stored as `storage`: F32 or BF16) = x, BF16 rounded nearest-even (round_to's
  // rounding): how new rows enter a KV cache kept in BF16.
  virtual void to_storage(const float* x, int64_t n, DType storage, void* dst) = 0;

  // --- sampling ---
  // The token SampleArgs picks from logits (n values, this backend's memory, left unchanged):
  // on a device only the id comes back.
  virtual int32_t sample(const float* logits, int64_t n, const SampleArgs& a) = 0;

  // --- MoE ---
  // For each of T tokens, the k chosen experts (in choice order) and their weights, from the
  // gate logits (T, E). experts and weights are host arrays (T·k): the per-expert token counts
  // decide the shapes of the expert matmuls, so the host needs them.
  virtual void moe_route(const float* logits, int64_t T, const MoeRouting& r, int32_t* experts, float* weights) = 0;
  // dst (n, cols) = the rows rows[0..n) of src (row stride cols); rows is a host array.
  virtual void gather_rows(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst) = 0;
  // dst row rows[j] += weights[j] · src row j, for j < n, in order; rows (distinct) and weights are host arrays.
  virtual void scatter_add_rows(const float* src, int64_t cols, const int32_t* rows, const float* weights, int64_t n,
                                float* dst) = 0;
};

Backend& cpu_backend();
Backend& reference_backend();
// "cpu", "reference" or "cuda" (throws "no CUDA device (reason)" when there is none).
Backend& backend_named(const std::string& name);

// Sampling helpers over a logits row (CPU only; used by generation).
int64_t argmax(const float* x, int64_t n);
// The k largest (value, index) pairs, by value descending (ties: lower index first).
void top_k(const float* x, int64_t n, int64_t k, float* values, int32_t* indices);
// x = softmax(x / temperature), in place; returns the log of the normaliser.
double softmax_inplace(float* x, int64_t n, float temperature);

}  // namespace nl
