// The NemotronH forward pass on any Backend (docs/model.md section 2): a loop over the
// layer plan that reads like the paper — norm, mixer by block kind, residual — with the
// per-sequence state (conv + SSM state per Mamba layer, KV cache per attention layer).
// Weights are bound by (layer, role) from TypeScript, which owns the plan and the names;
// this side only holds views of the stored bytes (and fp32 copies of the small vectors).
// The model is bound to one Backend at creation: its activations (a scratch arena reused
// between calls) and every state's buffers are that backend's memory.
#pragma once
#include <array>
#include <functional>
#include <vector>

#include "backend.h"
#include "fp8.h"

namespace nl {

// Mirrored in src/model/arch.ts (ROLE), checked by test/arch.test.ts through role_names().
// Vector roles are small and kept as fp32 copies.
enum Role : int {
  R_NORM = 0, R_IN_PROJ, R_IN_PROJ_B, R_CONV_W, R_CONV_B, R_A_LOG, R_D, R_DT_BIAS, R_MIXER_NORM, R_OUT_PROJ, R_OUT_PROJ_B,
  R_Q, R_Q_B, R_K, R_K_B, R_V, R_V_B, R_O, R_O_B, R_UP, R_UP_B, R_DOWN, R_DOWN_B,
  R_GATE, R_GATE_BIAS, R_SHARED_UP, R_SHARED_DOWN, R_FC1_LATENT, R_FC2_LATENT, R_EXPERT_UP, R_EXPERT_DOWN,
  R_EMBED, R_NORM_F, R_LM_HEAD, R_COUNT
};
bool role_is_vector(int role);

enum Kind : int { K_MAMBA = 0, K_ATTENTION = 1, K_MLP = 2, K_MOE = 3, K_COUNT };

struct ModelConfig {
  int64_t H = 0, vocab = 0;
  int64_t nh = 0, P = 0, G = 1, N = 0, K = 4, chunk = 128;
  int64_t nq = 0, nkv = 0, hd = 0;
  float eps = 1e-5f;
  float dt_lo = 0.0f, dt_hi = INFINITY;
  float dt_clamp_min = 0.0f;  // > 0: HF's prefill clamp dt >= time_step_min
  int64_t E = 0, topk = 0, n_group = 1, topk_group = 1;
  bool norm_topk = true;
  float routed_scale = 1.0f;
  std::vector<int> kinds;
  // Storage precision of the per-sequence state (computation stays fp32): the SSM state is
  // rounded where it is kept between forward calls; the KV cache where rows are written. A BF16
  // KV cache is stored as BF16 (half the memory: the 9B's 128k context on a 12 GB budget); the
  // FP8 one is a what-if (fp32 storage holding FP8 values).
  int ssm_dtype = 0;  // StateDtype: F32, BF16 or F16
  int kv_dtype = 0;   // StateDtype: F32, BF16 or FP8_E4M3 (a scale per KV head, set by the first write)
};

enum StateDtype : int { SD_F32 = 0, SD_BF16 = 1, SD_F16 = 2, SD_FP8_E4M3 = 3 };

// How a linear's input activations are fake-quantized to FP8 (code = fp8(x / scale),
// x' = value(code) * scale, saturating) and observed for calibration, per weight slot.
struct InputQuant {
  int mode = 0;  // 0 off, 1 static (one scale), 2 dynamic (a scale per token row: amax / fmax)
  Fp8Format format = Fp8Format::E4M3;
  float scale = 1.0f;
  bool observe = false;
  float amax = 0.0f;  // max |input| seen while observing
  bool active() const { return mode != 0 || observe; }
};

struct LayerWeights {
  std::array<StoredMatrix, R_COUNT> mat{};
  mutable std::array<InputQuant, R_COUNT> input{};  // changed by forwards that observe
  std::array<std::vector<float>, R_COUNT> vec{};
  std::vector<StoredMatrix> expert_up, expert_down;
};

// n floats of a backend's memory; copying copies the contents (for State clones).
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend& be, int64_t n);
  Buffer(const Buffer& o);
  Buffer(Buffer&& o) noexcept { swap(o); }
  Buffer& operator=(Buffer o) noexcept { swap(o); return *this; }
  ~Buffer();
  void swap(Buffer& o) noexcept { std::swap(be_, o.be_); std::swap(p_, o.p_); std::swap(n_, o.n_); }
  float* data() const { return p_; }
  int64_t size() const { return n_; }

 private:
  Backend* be_ = nullptr;
  float* p_ = nullptr;
  int64_t n_ = 0;
};

struct LayerState {
  Buffer conv, ssm;  // (K-1, conv_dim), (nh, P, N)
  Buffer k, v;       // (kv_tokens, nkv*hd) in the KV storage dtype: the KV cache, grown by doubling
  int64_t kv_tokens = 0;  // positions the cache holds room for
  std::vector<float> kscale, vscale;  // FP8 KV cache: one scale per KV head (empty until the first write)
};

struct State {
  int64_t length = 0;
  int64_t max_tokens = 0;  // 0: unlimited
  std::vector<LayerState> layers;
};

// Reused activation buffers of a forward, by purpose.
enum Scratch : int {
  S_H = 0, S_X, S_Y, S_LOGITS, S_ZX, S_XBC, S_DT, S_SSM_Y, S_Q, S_O, S_U, S_GATE, S_XIN, S_XG, S_YG, S_ACC, S_SHARED,
  S_INPUT_Q, S_K, S_V, S_COUNT
};

// Hook points: where a forward can record or rewrite an activation (TransformerLens-style).
// Names and shapes are in the architecture table (src/model/arch.ts's HOOK_POINT); the
// native names (hook_point_names) are checked against it by test/arch.test.ts.
enum HookPoint : int {
  H_BLOCK = 0, H_MIXER, H_NORM, H_EMBED, H_NORM_F,
  // Mamba-2 mixer
  H_IN_PROJ, H_CONV1D, H_X, H_B, H_C, H_DT, H_SSM_STATE, H_Y, H_MIXER_NORM, H_EFFECTIVE_ATTENTION,
  // attention mixer
  H_Q, H_K, H_V, H_PATTERN, H_Z,
  // MLP mixer
  H_UP_PROJ, H_ACT,
  H_COUNT
};
// Hook points computed only on request and never written back (derived or per-token states).
bool hook_is_read_only(int point);

// What one forward call does at one hook point. record: host memory that receives the
// activation (row-major, this call's rows); patch: called with a contiguous host copy,
// which it may rewrite in place before it flows on. Patching happens before recording.
struct Hook {
  int layer = 0, point = 0;  // layer -1: embeddings; layer L: norm_f
  float* record = nullptr;
  int64_t record_floats = 0;
  std::function<void(float* data, int64_t n)> patch;
};

// The hooks of one call, found by (layer, point) in O(1); empty costs one pointer test per site.
class HookSet {
 public:
  HookSet() = default;
  HookSet(std::vector<Hook> hooks, int64_t layers);
  const Hook* find(int layer, int point) const {
    if (index_.empty()) return nullptr;
    const int i = index_[size_t((layer + 1) * H_COUNT + point)];
    return i < 0 ? nullptr : &hooks_[size_t(i)];
  }
  bool empty() const { return hooks_.empty(); }

 private:
  std::vector<Hook> hooks_;
  std::vector<int> index_;
};

// Every weight a dense NemotronH (no MoE layer) of this config binds: layer (-1: embeddings,
// lm_head, norm_f), role and shape (a vector: 1 row), in layer order, as the checkpoint stores
// them (docs/model.md); mlp_inner is the MLP width (intermediate_size). For code that makes a
// model of a config's shapes (the device check, the decode traffic model).
struct WeightSlot { int layer, role; int64_t rows, cols; };
std::vector<WeightSlot> weight_slots(const ModelConfig& c, int64_t mlp_inner);

// The names of the native enums, in code order (exported through the addon so the
// TypeScript tables can be checked against them).
const std::vector<const char*>& role_names();
const std::vector<const char*>& kind_names();
const std::vector<const char*>& hook_point_names();

struct Model {
  ModelConfig cfg;
  Backend& be;
  std::vector<LayerWeights> layers;
  StoredMatrix embed, lm_head;
  std::vector<float> norm_f;

  Model(ModelConfig c, Backend& backend);
  ~Model();  // tells the backend to drop its cached copies of this model's weights
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  // Binds a matrix (view of stored bytes) or converts a small vector to fp32.
  void set_matrix(int layer, int role, int expert, const StoredMatrix& w);
  void set_vector(int layer, int role, const StoredMatrix& w);
  void check_complete() const;
  // The input quantization of a linear weight slot (lm_head: layer -1).
  InputQuant& input_quant(int layer, int role);

  State new_state(int64_t max_tokens) const;
  // The KV cache's storage dtype (F32 or BF16) and bytes per position of one of K or V.
  DType kv_storage() const { return cfg.kv_dtype == SD_BF16 ? DType::BF16 : DType::F32; }
  int64_t kv_row_bytes() const { return cfg.nkv * cfg.hd * (kv_storage() == DType::BF16 ? 2 : 4); }
  // Gives an attention layer's cache room for `tokens` positions, keeping its first `keep`.
  void reserve_kv(LayerState& st, int64_t tokens, int64_t keep) const;
  void reset(State& s) const;
  // Runs T tokens from s (advancing it). logits: (T, vocab), or (1, vocab) if last_only.
  // logits and hook buffers are host memory.
  void forward(State& s, const int32_t* ids, int64_t T, bool last_only, float* logits, const HookSet& hooks) const;
  // Runs T tokens from s and returns the next token the backend's sample op picks from the
  // last row's logits (which stay in the backend's memory: on a device only the id comes back).
  int32_t forward_sample(State& s, const int32_t* ids, int64_t T, const SampleArgs& sampling) const;

 private:
  mutable std::array<Buffer, S_COUNT> scratch_;
  mutable InputQuant lm_head_input_;
  mutable const HookSet* hooks_ = nullptr;  // the running forward's hooks (null between calls)
  mutable std::vector<float> hook_tmp_;     // host copy of a patched activation
  const Hook* hook(int layer, int point) const { return hooks_ ? hooks_->find(layer, point) : nullptr; }
  // The activation at a hook point: rows x cols floats with row stride ld in the backend's memory.
  void at_hook(int layer, int point, float* base, int64_t rows, int64_t cols, int64_t ld) const;
  // y = x' · wᵀ (+ bias), x' = x fake-quantized (and observed) as `in` says.
  void linear(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y, InputQuant* in) const;
  float* scratch(int slot, int64_t n) const;  // at least n floats, contents undefined
  void forget(const StoredMatrix& w);
  // The forward's layers and lm_head: the logits (rows, vocab) in the backend's memory (in
  // `host` when the backend computes in host memory and one is given).
  const float* run(State& s, const int32_t* ids, int64_t T, bool last_only, const HookSet& hooks, float* host) const;
  void mamba(int layer, const LayerWeights& w, LayerState& st, bool fresh, const float* x, int64_t T, float* out) const;
  void attention(int layer, const LayerWeights& w, LayerState& st, int64_t past, const float* x, int64_t T, float* out) const;
  // Rounds the fp32 KV rows [past, past + T) to FP8 E4M3 values (the per-head scales are set on the first write).
  void store_state(float* x, int64_t n, int dtype) const;
  void store_kv(LayerState& st, int64_t past, int64_t T) const;
  // layer < 0: no hooks (MoE experts)
  void mlp(int layer, const StoredMatrix& up, const float* up_b, const StoredMatrix& down, const float* down_b, const float* x,
           int64_t T, float* out, InputQuant* up_in = nullptr, InputQuant* down_in = nullptr) const;
  void moe(const LayerWeights& w, const float* x, int64_t T, float* out) const;
};

}  // namespace nl
