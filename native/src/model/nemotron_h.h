// The NemotronH forward pass on any Backend (nemotron-h.md section 4): a loop over the
// layer plan that reads like the paper — norm, mixer by block kind, residual — with the
// per-sequence state (conv + SSM state per Mamba layer, KV cache per attention layer).
// Weights are bound by (layer, role) from TypeScript, which owns the plan and the names;
// this side only holds views of the stored bytes (and fp32 copies of the small vectors).
#pragma once
#include <array>
#include <vector>

#include "backend.h"

namespace nl {

// Mirrored in src/model/plan.ts (ROLE). Vector roles are small and kept as fp32 copies.
enum Role : int {
  R_NORM = 0, R_IN_PROJ, R_IN_PROJ_B, R_CONV_W, R_CONV_B, R_A_LOG, R_D, R_DT_BIAS, R_MIXER_NORM, R_OUT_PROJ, R_OUT_PROJ_B,
  R_Q, R_Q_B, R_K, R_K_B, R_V, R_V_B, R_O, R_O_B, R_UP, R_UP_B, R_DOWN, R_DOWN_B,
  R_GATE, R_GATE_BIAS, R_SHARED_UP, R_SHARED_DOWN, R_FC1_LATENT, R_FC2_LATENT, R_EXPERT_UP, R_EXPERT_DOWN,
  R_EMBED, R_NORM_F, R_LM_HEAD, R_COUNT
};
bool role_is_vector(int role);

enum Kind : int { K_MAMBA = 0, K_ATTENTION = 1, K_MLP = 2, K_MOE = 3 };

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
};

struct LayerWeights {
  std::array<WeightView, R_COUNT> mat{};
  std::array<std::vector<float>, R_COUNT> vec{};
  std::vector<WeightView> expert_up, expert_down;
};

struct LayerState {
  std::vector<float> conv, ssm, k, v;
};

struct State {
  int64_t length = 0;
  int64_t max_tokens = 0;  // 0: unlimited
  std::vector<LayerState> layers;
};

// Where an activation is copied during a forward (TransformerLens-style hook points).
enum HookPoint : int { H_BLOCK = 0, H_MIXER = 1, H_NORM = 2, H_EMBED = 3, H_NORM_F = 4 };
struct Capture {
  int layer;
  int point;
  float* buf;  // (T, H)
};

struct Model {
  ModelConfig cfg;
  std::vector<LayerWeights> layers;
  WeightView embed, lm_head;
  std::vector<float> norm_f;

  explicit Model(ModelConfig c);
  // Binds a matrix (view of stored bytes) or converts a small vector to fp32.
  void set_matrix(int layer, int role, int expert, const WeightView& w);
  void set_vector(int layer, int role, const WeightView& w);
  void check_complete() const;

  State new_state(int64_t max_tokens) const;
  void reset(State& s) const;
  // Runs T tokens from s (advancing it). logits: (T, vocab), or (1, vocab) if last_only.
  void forward(Backend& be, State& s, const int32_t* ids, int64_t T, bool last_only, float* logits,
               const std::vector<Capture>& caps) const;

 private:
  void mamba(Backend& be, const LayerWeights& w, LayerState& st, bool fresh, const float* x, int64_t T, float* out) const;
  void attention(Backend& be, const LayerWeights& w, LayerState& st, int64_t past, const float* x, int64_t T,
                 float* out) const;
  void mlp(Backend& be, const WeightView& up, const float* up_b, const WeightView& down, const float* down_b,
           const float* x, int64_t T, float* out) const;
  void moe(Backend& be, const LayerWeights& w, const float* x, int64_t T, float* out) const;
};

}  // namespace nl
