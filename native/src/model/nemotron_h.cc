// NemotronH forward pass over the backend ops; see nemotron_h.h and docs/model.md sections 2-6.
#include "model/nemotron_h.h"

#include "cpu/fp8_codec.h"
#include "model/lens.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace nl {

bool role_is_vector(int r) {
  switch (r) {
    case R_NORM: case R_IN_PROJ_B: case R_CONV_W: case R_CONV_B: case R_A_LOG: case R_D: case R_DT_BIAS:
    case R_MIXER_NORM: case R_OUT_PROJ_B: case R_Q_B: case R_K_B: case R_V_B: case R_O_B: case R_UP_B:
    case R_DOWN_B: case R_GATE_BIAS: case R_NORM_F:
      return true;
    default:
      return false;
  }
}

const std::vector<const char*>& role_names() {
  static const std::vector<const char*> n = {
      "norm", "in_proj", "in_proj_b", "conv_w", "conv_b", "A_log", "D", "dt_bias", "mixer_norm", "out_proj",
      "out_proj_b", "q", "q_b", "k", "k_b", "v", "v_b", "o", "o_b", "up", "up_b", "down", "down_b",
      "gate", "gate_bias", "shared_up", "shared_down", "fc1_latent", "fc2_latent", "expert_up",
      "expert_down", "embed", "norm_f", "lm_head"};
  NL_CHECK(n.size() == size_t(R_COUNT), "role_names out of step with enum Role");
  return n;
}
const std::vector<const char*>& kind_names() {
  static const std::vector<const char*> n = {"mamba", "attention", "mlp", "moe"};
  NL_CHECK(n.size() == size_t(K_COUNT), "kind_names out of step with enum Kind");
  return n;
}
const std::vector<const char*>& hook_point_names() {
  static const std::vector<const char*> n = {
      "block", "mixer", "norm", "embed", "norm_f",
      "in_proj", "conv1d", "x", "B", "C", "dt", "ssm_state", "y", "mixer_norm", "effective_attention",
      "q", "k", "v", "pattern", "z", "up_proj", "act"};
  NL_CHECK(n.size() == size_t(H_COUNT), "hook_point_names out of step with enum HookPoint");
  return n;
}

std::vector<WeightSlot> weight_slots(const ModelConfig& c, int64_t mlp_inner) {
  const int64_t di = c.nh * c.P, conv_dim = di + 2 * c.G * c.N;
  std::vector<WeightSlot> w;
  for (size_t i = 0; i < c.kinds.size(); i++) {
    const int l = int(i);
    w.push_back({l, R_NORM, 1, c.H});
    switch (c.kinds[i]) {
      case K_MAMBA:
        w.insert(w.end(), {{l, R_IN_PROJ, di + conv_dim + c.nh, c.H}, {l, R_CONV_W, 1, conv_dim * c.K}, {l, R_CONV_B, 1, conv_dim},
                           {l, R_A_LOG, 1, c.nh}, {l, R_D, 1, c.nh}, {l, R_DT_BIAS, 1, c.nh}, {l, R_MIXER_NORM, 1, di},
                           {l, R_OUT_PROJ, c.H, di}});
        break;
      case K_ATTENTION:
        w.insert(w.end(), {{l, R_Q, c.nq * c.hd, c.H}, {l, R_K, c.nkv * c.hd, c.H}, {l, R_V, c.nkv * c.hd, c.H},
                           {l, R_O, c.H, c.nq * c.hd}});
        break;
      case K_MLP: w.insert(w.end(), {{l, R_UP, mlp_inner, c.H}, {l, R_DOWN, c.H, mlp_inner}}); break;
      default: NL_CHECK(false, "weight_slots: MoE layers have per-expert weights; dense models only");
    }
  }
  w.insert(w.end(), {{-1, R_EMBED, c.vocab, c.H}, {-1, R_LM_HEAD, c.vocab, c.H}, {-1, R_NORM_F, 1, c.H}});
  return w;
}

bool hook_is_read_only(int point) {
  return point == H_SSM_STATE || point == H_EFFECTIVE_ATTENTION || point == H_PATTERN;
}

HookSet::HookSet(std::vector<Hook> hooks, int64_t layers) : hooks_(std::move(hooks)) {
  if (hooks_.empty()) return;
  index_.assign(size_t((layers + 2) * H_COUNT), -1);
  for (size_t i = 0; i < hooks_.size(); i++) {
    const Hook& h = hooks_[i];
    NL_CHECK(h.layer >= -1 && h.layer <= layers, "hook: layer " + std::to_string(h.layer) + " out of range");
    NL_CHECK(h.point >= 0 && h.point < H_COUNT, "hook: unknown hook point " + std::to_string(h.point));
    NL_CHECK(!h.patch || !hook_is_read_only(h.point),
             std::string("hook: '") + hook_point_names()[size_t(h.point)] + "' can be recorded, not patched");
    int& slot = index_[size_t((h.layer + 1) * H_COUNT + h.point)];
    NL_CHECK(slot < 0, "hook: layer " + std::to_string(h.layer) + " point " + hook_point_names()[size_t(h.point)] +
                           " given twice");
    slot = int(i);
  }
}

// ---------------------------------------------------------------------------------------
Buffer::Buffer(Backend& be, int64_t n) : be_(&be), n_(n) {
  p_ = static_cast<float*>(be.alloc(size_t(std::max<int64_t>(n, 1)) * sizeof(float)));
}
Buffer::Buffer(const Buffer& o) : be_(o.be_), n_(o.n_) {
  if (!be_) return;
  p_ = static_cast<float*>(be_->alloc(size_t(std::max<int64_t>(n_, 1)) * sizeof(float)));
  be_->copy(p_, o.p_, size_t(n_) * sizeof(float));
}
Buffer::~Buffer() {
  if (be_ && p_) be_->free(p_);
}

float* Model::scratch(int slot, int64_t n) const {
  Buffer& b = scratch_[slot];
  if (b.size() < n) b = Buffer(be, n);
  return b.data();
}

void Model::at_hook(int layer, int point, float* base, int64_t rows, int64_t cols, int64_t ld) const {
  const Hook* h = hook(layer, point);
  if (!h) return;
  const int64_t n = rows * cols;
  auto gather = [&](float* dst) {
    if (ld == cols) { be.copy(dst, base, size_t(n) * sizeof(float)); return; }
    for (int64_t r = 0; r < rows; r++) be.copy(dst + r * cols, base + r * ld, size_t(cols) * sizeof(float));
  };
  if (h->patch) {
    hook_tmp_.resize(size_t(n));
    gather(hook_tmp_.data());
    h->patch(hook_tmp_.data(), n);
    if (ld == cols) {
      be.copy(base, hook_tmp_.data(), size_t(n) * sizeof(float));
    } else {
      for (int64_t r = 0; r < rows; r++) be.copy(base + r * ld, hook_tmp_.data() + r * cols, size_t(cols) * sizeof(float));
    }
  }
  if (h->record) {
    NL_CHECK(h->record_floats >= n, std::string("hook ") + hook_point_names()[size_t(point)] + " of layer " +
                                        std::to_string(layer) + ": record buffer too small");
    gather(h->record);
  }
}

void Model::forget(const StoredMatrix& w) {
  if (w.data) be.forget_weight(w.data);
  if (w.scale) be.forget_weight(w.scale);
}

Model::~Model() {
  for (auto& l : layers) {
    for (auto& m : l.mat) forget(m);
    for (auto& v : l.vec) if (!v.empty()) be.forget_weight(v.data());
    for (auto& m : l.expert_up) forget(m);
    for (auto& m : l.expert_down) forget(m);
  }
  forget(embed);
  forget(lm_head);
  if (!norm_f.empty()) be.forget_weight(norm_f.data());
}

Model::Model(ModelConfig c, Backend& backend) : cfg(std::move(c)), be(backend) {
  NL_CHECK(cfg.H > 0 && cfg.vocab > 0, "model: hidden size and vocabulary must be positive");
  NL_CHECK(cfg.ssm_dtype == SD_F32 || cfg.ssm_dtype == SD_BF16 || cfg.ssm_dtype == SD_F16,
           "model: ssm state dtype must be f32, bf16 or f16 (code " + std::to_string(cfg.ssm_dtype) + ")");
  NL_CHECK(cfg.kv_dtype == SD_F32 || cfg.kv_dtype == SD_BF16 || cfg.kv_dtype == SD_FP8_E4M3,
           "model: KV cache dtype must be f32, bf16 or fp8_e4m3 (code " + std::to_string(cfg.kv_dtype) + ")");
  layers.resize(cfg.kinds.size());
  for (size_t i = 0; i < cfg.kinds.size(); i++) {
    if (cfg.kinds[i] == K_MOE) {
      layers[i].expert_up.resize(cfg.E);
      layers[i].expert_down.resize(cfg.E);
    }
  }
}

void Model::set_matrix(int layer, int role, int expert, const StoredMatrix& w) {
  NL_CHECK(!role_is_vector(role) && role >= 0 && role < R_COUNT, "model: role " + std::to_string(role) + " is not a matrix");
  // A device backend's cached copy of the weight this replaces must go (its host memory may be reused).
  if (role == R_EMBED) { if (embed.data != lm_head.data) forget(embed); embed = w; return; }
  if (role == R_LM_HEAD) { if (embed.data != lm_head.data) forget(lm_head); lm_head = w; return; }
  NL_CHECK(layer >= 0 && size_t(layer) < layers.size(), "model: layer " + std::to_string(layer) + " out of range");
  LayerWeights& lw = layers[layer];
  if (role == R_EXPERT_UP || role == R_EXPERT_DOWN) {
    NL_CHECK(expert >= 0 && expert < cfg.E, "model: expert " + std::to_string(expert) + " out of range");
    StoredMatrix& slot = (role == R_EXPERT_UP ? lw.expert_up : lw.expert_down)[expert];
    forget(slot);
    slot = w;
    return;
  }
  forget(lw.mat[role]);
  lw.mat[role] = w;
}

InputQuant& Model::input_quant(int layer, int role) {
  NL_CHECK(!role_is_vector(role) && role >= 0 && role < R_COUNT && role != R_EMBED && role != R_EXPERT_UP &&
               role != R_EXPERT_DOWN,
           "model: role " + std::to_string(role) + " has no input quantization (a linear of a layer, or lm_head)");
  if (role == R_LM_HEAD) return lm_head_input_;
  NL_CHECK(layer >= 0 && size_t(layer) < layers.size(), "model: layer " + std::to_string(layer) + " out of range");
  return layers[layer].input[role];
}

void Model::linear(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y, InputQuant* in) const {
  if (!in || !in->active()) {
    be.linear(x, T, w, bias, y);
    return;
  }
  const int64_t n = T * w.cols;
  if (in->observe) in->amax = std::max(in->amax, be.amax(x, w.cols, T, w.cols));
  if (in->mode != 0) {
    float* q = scratch(S_INPUT_Q, n);
    be.fake_quant_fp8(x, w.cols, T, w.cols, in->format, in->mode == 2, in->scale, q, w.cols);
    x = q;
  }
  be.linear(x, T, w, bias, y);
}

void Model::set_vector(int layer, int role, const StoredMatrix& w) {
  NL_CHECK(role_is_vector(role), "model: role " + std::to_string(role) + " is not a vector");
  std::vector<float> v(size_t(w.rows * w.cols));
  for (int64_t i = 0; i < w.rows * w.cols; i++) v[i] = element_f32(w.data, w.dtype, i) * w.scale_at(i / w.cols, i % w.cols);
  if (role == R_A_LOG) {
    for (auto& a : v) a = float(-std::exp(double(a)));  // A = -exp(A_log)
  }
  std::vector<float>* slot = nullptr;
  if (role == R_NORM_F) {
    slot = &norm_f;
  } else {
    NL_CHECK(layer >= 0 && size_t(layer) < layers.size(), "model: layer " + std::to_string(layer) + " out of range");
    slot = &layers[layer].vec[role];
  }
  if (!slot->empty()) be.forget_weight(slot->data());
  *slot = std::move(v);
}

void Model::check_complete() const {
  NL_CHECK(!embed.empty(), "model: embeddings not bound");
  NL_CHECK(!lm_head.empty(), "model: lm_head not bound");
  NL_CHECK(!norm_f.empty(), "model: norm_f not bound");
  for (size_t i = 0; i < layers.size(); i++) {
    const LayerWeights& w = layers[i];
    auto need = [&](bool ok, const char* what) { NL_CHECK(ok, "model: layer " + std::to_string(i) + " lacks " + what); };
    need(!w.vec[R_NORM].empty(), "norm.weight");
    switch (cfg.kinds[i]) {
      case K_MAMBA:
        need(!w.mat[R_IN_PROJ].empty() && !w.mat[R_OUT_PROJ].empty(), "in_proj/out_proj");
        need(!w.vec[R_CONV_W].empty() && !w.vec[R_A_LOG].empty() && !w.vec[R_D].empty() && !w.vec[R_DT_BIAS].empty() &&
                 !w.vec[R_MIXER_NORM].empty(), "conv1d/A_log/D/dt_bias/norm");
        break;
      case K_ATTENTION:
        need(!w.mat[R_Q].empty() && !w.mat[R_K].empty() && !w.mat[R_V].empty() && !w.mat[R_O].empty(), "q/k/v/o_proj");
        break;
      case K_MLP: need(!w.mat[R_UP].empty() && !w.mat[R_DOWN].empty(), "up/down_proj"); break;
      case K_MOE:
        need(!w.mat[R_GATE].empty(), "gate");
        for (int64_t e = 0; e < cfg.E; e++) need(!w.expert_up[e].empty() && !w.expert_down[e].empty(), "an expert");
        break;
    }
  }
}

State Model::new_state(int64_t max_tokens) const {
  State s;
  s.max_tokens = max_tokens;
  s.layers.resize(layers.size());
  const int64_t conv_dim = cfg.nh * cfg.P + 2 * cfg.G * cfg.N;
  for (size_t i = 0; i < layers.size(); i++) {
    if (cfg.kinds[i] == K_MAMBA) {
      s.layers[i].conv = Buffer(be, (cfg.K - 1) * conv_dim);
      s.layers[i].ssm = Buffer(be, cfg.nh * cfg.P * cfg.N);
    } else if (cfg.kinds[i] == K_ATTENTION && max_tokens > 0) {
      // A bounded state gets its whole KV cache now (up to the 9B's 128k context; a larger
      // bound, e.g. "generate without end", grows past that): never grown, never held twice.
      reserve_kv(s.layers[i], std::min<int64_t>(max_tokens, 131072), 0);
    }
  }
  reset(s);
  return s;
}

void Model::reserve_kv(LayerState& st, int64_t tokens, int64_t keep) const {
  const int64_t bytes = tokens * kv_row_bytes(), floats = (bytes + 3) / 4;  // Buffer counts floats
  Buffer k(be, floats), v(be, floats);
  if (keep > 0) {
    be.copy(k.data(), st.k.data(), size_t(keep * kv_row_bytes()));
    be.copy(v.data(), st.v.data(), size_t(keep * kv_row_bytes()));
  }
  st.k = std::move(k);
  st.v = std::move(v);
  st.kv_tokens = tokens;
}

void Model::reset(State& s) const {
  s.length = 0;
  for (auto& l : s.layers) {  // the KV cache keeps its memory; length 0 makes it empty
    l.kscale.clear();
    l.vscale.clear();
    if (l.conv.data()) be.zero(l.conv.data(), size_t(l.conv.size()) * sizeof(float));
    if (l.ssm.data()) be.zero(l.ssm.data(), size_t(l.ssm.size()) * sizeof(float));
  }
}

// The state as the cache keeps it: 16-bit storage rounds (and reads back), an FP8 KV cache has
// one scale per KV head, set on the first write (the prefill) from its amax / fmax, saturating after.
void Model::store_state(float* x, int64_t n, int dtype) const {
  if (dtype == SD_BF16 || dtype == SD_F16) be.round_to(x, n, dtype == SD_BF16 ? DType::BF16 : DType::F16);
}

void Model::store_kv(LayerState& st, int64_t past, int64_t T) const {
  const int64_t kvd = cfg.nkv * cfg.hd;
  const float fmax = fp8_max(Fp8Format::E4M3);
  for (auto [buf, scale] : {std::pair{st.k.data(), &st.kscale}, std::pair{st.v.data(), &st.vscale}}) {
    float* rows = buf + past * kvd;
    if (scale->empty()) {
      scale->assign(size_t(cfg.nkv), 1.0f);
      for (int64_t h = 0; h < cfg.nkv; h++) {
        const float a = be.amax(rows + h * cfg.hd, kvd, T, cfg.hd);
        if (a > 0.0f && std::isfinite(a)) (*scale)[size_t(h)] = a / fmax;
      }
    }
    for (int64_t h = 0; h < cfg.nkv; h++)
      be.fake_quant_fp8(rows + h * cfg.hd, kvd, T, cfg.hd, Fp8Format::E4M3, false, (*scale)[size_t(h)], rows + h * cfg.hd, kvd);
  }
}

// ---------------------------------------------------------------------------------------
void Model::mamba(int layer, const LayerWeights& w, LayerState& st, bool fresh, const float* x, int64_t T, float* out) const {
  const int64_t di = cfg.nh * cfg.P, gn = cfg.G * cfg.N, conv_dim = di + 2 * gn, in_out = di + conv_dim + cfg.nh;
  float* zx = scratch(S_ZX, T * in_out);
  float* xbc = scratch(S_XBC, T * conv_dim);
  float* dt = scratch(S_DT, T * cfg.nh);
  float* y = scratch(S_SSM_Y, T * di);
  // 1. in_proj → [z | xBC | dt_raw]                                     (T, in_out)
  linear(x, T, w.mat[R_IN_PROJ], w.vec[R_IN_PROJ_B].empty() ? nullptr : w.vec[R_IN_PROJ_B].data(), zx, &w.input[R_IN_PROJ]);
  at_hook(layer, H_IN_PROJ, zx, T, in_out, in_out);
  // 2. causal depthwise conv + SiLU over xBC, continuing from the conv state   (T, conv_dim)
  be.conv1d_silu(zx + di, in_out, T, conv_dim, cfg.K, w.vec[R_CONV_W].data(),
                 w.vec[R_CONV_B].empty() ? nullptr : w.vec[R_CONV_B].data(), st.conv.data(), xbc);
  at_hook(layer, H_CONV1D, xbc, T, conv_dim, conv_dim);
  // 3. split into x | B | C (views of the conv output)
  at_hook(layer, H_X, xbc, T, di, conv_dim);
  at_hook(layer, H_B, xbc + di, T, gn, conv_dim);
  at_hook(layer, H_C, xbc + di + gn, T, gn, conv_dim);
  // 4. dt = softplus(dt_raw + dt_bias), clamped to time_step_limit (and, HF mode, >= time_step_min in the
  //    sequence path, which HF takes unless it decodes one token from a cache)
  const bool hf_prefill = cfg.dt_clamp_min > 0 && !(T == 1 && !fresh);
  const float lo = hf_prefill ? std::max(cfg.dt_lo, cfg.dt_clamp_min) : cfg.dt_lo;
  be.dt_softplus(zx + di + conv_dim, in_out, T, cfg.nh, w.vec[R_DT_BIAS].data(), lo, cfg.dt_hi, dt);
  at_hook(layer, H_DT, dt, T, cfg.nh, cfg.nh);
  if (const Hook* h = hook(layer, H_EFFECTIVE_ATTENTION)) {
    NL_CHECK(fresh, "effective_attention: needs a fresh state (a full pass from the first token)");
    NL_CHECK(h->record_floats >= cfg.nh * T * T, "effective_attention: record buffer too small");
    std::vector<float> B(size_t(T * gn)), C(size_t(T * gn)), dth(size_t(T * cfg.nh));
    for (int64_t t = 0; t < T; t++) {
      be.copy(B.data() + t * gn, xbc + t * conv_dim + di, size_t(gn) * sizeof(float));
      be.copy(C.data() + t * gn, xbc + t * conv_dim + di + gn, size_t(gn) * sizeof(float));
    }
    be.copy(dth.data(), dt, dth.size() * sizeof(float));
    effective_attention(B.data(), C.data(), dth.data(), w.vec[R_A_LOG].data(), T, cfg.nh, cfg.G, cfg.N, h->record);
  }
  // 5-7. selective scan from the SSM state                                  (T, di)
  SsdArgs a{xbc, xbc + di, xbc + di + gn, conv_dim, conv_dim, dt,
            w.vec[R_A_LOG].data(), w.vec[R_D].data(), T, cfg.nh, cfg.P, cfg.G, cfg.N, cfg.chunk, st.ssm.data(), y};
  if (const Hook* h = hook(layer, H_SSM_STATE)) {
    // The state after every token exists only in the recurrent form: step token by token.
    const int64_t sn = cfg.nh * cfg.P * cfg.N;
    NL_CHECK(h->record_floats >= T * sn, "ssm_state: record buffer too small");
    for (int64_t t = 0; t < T; t++) {
      SsdArgs s1 = a;
      s1.x = a.x + t * conv_dim; s1.B = a.B + t * conv_dim; s1.C = a.C + t * conv_dim;
      s1.dt = dt + t * cfg.nh; s1.y = y + t * di; s1.T = 1;
      be.ssm_step(s1);
      be.copy(h->record + t * sn, st.ssm.data(), size_t(sn) * sizeof(float));
    }
  } else if (T == 1) {
    be.ssm_step(a);
  } else {
    be.ssd_scan(a);
  }
  // The state as the cache keeps it until the next call (prefill piece or decode step).
  store_state(st.ssm.data(), cfg.nh * cfg.P * cfg.N, cfg.ssm_dtype);
  at_hook(layer, H_Y, y, T, di, di);
  // 8. gated group RMSNorm (gate first), in place over y; 9. out_proj   (T, H)
  be.gated_rmsnorm(y, zx, in_out, T, di, di / cfg.G, w.vec[R_MIXER_NORM].data(), cfg.eps, y);
  at_hook(layer, H_MIXER_NORM, y, T, di, di);
  linear(y, T, w.mat[R_OUT_PROJ], w.vec[R_OUT_PROJ_B].empty() ? nullptr : w.vec[R_OUT_PROJ_B].data(), out, &w.input[R_OUT_PROJ]);
}

void Model::attention(int layer, const LayerWeights& w, LayerState& st, int64_t past, const float* x, int64_t T, float* out) const {
  const int64_t qd = cfg.nq * cfg.hd, kvd = cfg.nkv * cfg.hd;
  auto bias = [&](int r) { return w.vec[r].empty() ? nullptr : w.vec[r].data(); };
  float* q = scratch(S_Q, T * qd);
  float* o = scratch(S_O, T * qd);
  linear(x, T, w.mat[R_Q], bias(R_Q_B), q, &w.input[R_Q]);
  at_hook(layer, H_Q, q, T, qd, qd);
  // New keys and values go into the cache (no positional encoding to apply): straight from the
  // projections when it is fp32, else through fp32 scratch and to_storage's BF16 rounding. The
  // cache grows by doubling, up to the state's limit when it has one (a state with max_tokens
  // was given its whole cache in new_state: only unbounded ones grow).
  if (st.kv_tokens < past + T) reserve_kv(st, std::max(past + T, 2 * st.kv_tokens), past);
  const bool bf16 = kv_storage() == DType::BF16;
  char* kc = reinterpret_cast<char*>(st.k.data()) + past * kv_row_bytes();
  char* vc = reinterpret_cast<char*>(st.v.data()) + past * kv_row_bytes();
  float* kn = bf16 ? scratch(S_K, T * kvd) : reinterpret_cast<float*>(kc);
  float* vn = bf16 ? scratch(S_V, T * kvd) : reinterpret_cast<float*>(vc);
  linear(x, T, w.mat[R_K], bias(R_K_B), kn, &w.input[R_K]);
  linear(x, T, w.mat[R_V], bias(R_V_B), vn, &w.input[R_V]);
  at_hook(layer, H_K, kn, T, kvd, kvd);
  at_hook(layer, H_V, vn, T, kvd, kvd);
  // The cache holds the (possibly patched) rows in its dtype; the pattern and the attention read them.
  if (bf16) {
    be.to_storage(kn, T * kvd, DType::BF16, kc);
    be.to_storage(vn, T * kvd, DType::BF16, vc);
  } else if (cfg.kv_dtype == SD_FP8_E4M3) {
    store_kv(st, past, T);
  }
  const float scale = float(1.0 / std::sqrt(double(cfg.hd)));
  if (const Hook* h = hook(layer, H_PATTERN)) {
    NL_CHECK(past == 0, "pattern: needs a fresh state (a full pass from the first token)");
    NL_CHECK(h->record_floats >= cfg.nq * T * T, "pattern: record buffer too small");
    std::vector<float> qh(size_t(T * qd)), kh(size_t(T * kvd));
    be.copy(qh.data(), q, qh.size() * sizeof(float));
    if (bf16) {  // the keys as the cache holds them
      std::vector<uint16_t> k16(kh.size());
      be.copy(k16.data(), st.k.data(), k16.size() * 2);
      for (size_t i = 0; i < kh.size(); i++) kh[i] = bf16_to_f32(k16[i]);
    } else {
      be.copy(kh.data(), st.k.data(), kh.size() * sizeof(float));
    }
    attention_pattern(qh.data(), kh.data(), T, cfg.nq, cfg.nkv, cfg.hd, scale, h->record);
  }
  AttnArgs a{q, st.k.data(), st.v.data(), T, past, cfg.nq, cfg.nkv, cfg.hd, scale, o, kv_storage()};
  be.attention(a);
  at_hook(layer, H_Z, o, T, qd, qd);
  linear(o, T, w.mat[R_O], bias(R_O_B), out, &w.input[R_O]);
}

void Model::mlp(int layer, const StoredMatrix& up, const float* up_b, const StoredMatrix& down, const float* down_b, const float* x,
                int64_t T, float* out, InputQuant* up_in, InputQuant* down_in) const {
  float* u = scratch(S_U, T * up.rows);
  linear(x, T, up, up_b, u, up_in);   // (T, I)
  if (layer >= 0) at_hook(layer, H_UP_PROJ, u, T, up.rows, up.rows);
  be.relu2(u, T * up.rows);
  if (layer >= 0) at_hook(layer, H_ACT, u, T, up.rows, up.rows);
  linear(u, T, down, down_b, out, down_in);  // (T, H)
}

// Router (docs/model.md section 6): the backend's moe_route picks each token's k experts and
// their weights from σ(x·Wgᵀ); the tokens are grouped by expert on the host (index lists
// only), and each expert's rows are gathered, run through its MLP and scattered back weighted.
void Model::moe(const LayerWeights& w, const float* x, int64_t T, float* out) const {
  const int64_t E = cfg.E, H = cfg.H, k = cfg.topk;
  float* gate = scratch(S_GATE, T * E);
  be.linear(x, T, w.mat[R_GATE], nullptr, gate);
  const MoeRouting routing{E, k, std::max<int64_t>(1, cfg.n_group), cfg.topk_group, cfg.norm_topk, float(cfg.routed_scale),
                           w.vec[R_GATE_BIAS].empty() ? nullptr : w.vec[R_GATE_BIAS].data()};
  std::vector<int32_t> chosen(size_t(T * k));
  std::vector<float> chosen_w(size_t(T * k));
  be.moe_route(gate, T, routing, chosen.data(), chosen_w.data());
  std::vector<std::vector<int32_t>> rows(E);  // expert -> its tokens
  std::vector<std::vector<float>> row_w(E);   // and their weights
  for (int64_t i = 0; i < T * k; i++) {
    rows[chosen[i]].push_back(int32_t(i / k));
    row_w[chosen[i]].push_back(chosen_w[i]);
  }
  // Experts work in the latent space when fc1/fc2_latent_proj exist.
  const bool latent = !w.mat[R_FC1_LATENT].empty();
  const int64_t inner = latent ? w.mat[R_FC1_LATENT].rows : H;
  const float* xe = x;
  if (latent) {
    float* xin = scratch(S_XIN, T * inner);
    be.linear(x, T, w.mat[R_FC1_LATENT], nullptr, xin);
    xe = xin;
  }
  float* acc = scratch(S_ACC, T * inner);
  be.zero(acc, size_t(T * inner) * sizeof(float));
  for (int64_t e = 0; e < E; e++) {
    const int64_t n = int64_t(rows[e].size());
    if (!n) continue;
    float* xg = scratch(S_XG, n * inner);
    float* yg = scratch(S_YG, n * inner);
    be.gather_rows(xe, inner, rows[e].data(), n, xg);
    mlp(-1, w.expert_up[e], nullptr, w.expert_down[e], nullptr, xg, n, yg);
    be.scatter_add_rows(yg, inner, rows[e].data(), row_w[e].data(), n, acc);
  }
  if (latent) {
    be.linear(acc, T, w.mat[R_FC2_LATENT], nullptr, out);
  } else {
    be.copy(out, acc, size_t(T * inner) * sizeof(float));
  }
  if (!w.mat[R_SHARED_UP].empty()) {
    float* s = scratch(S_SHARED, T * H);
    mlp(-1, w.mat[R_SHARED_UP], nullptr, w.mat[R_SHARED_DOWN], nullptr, x, T, s, &w.input[R_SHARED_UP], &w.input[R_SHARED_DOWN]);
    be.add(out, s, T * H);
  }
}

// ---------------------------------------------------------------------------------------
void Model::forward(State& s, const int32_t* ids, int64_t T, bool last_only, float* logits, const HookSet& hooks) const {
  const float* dst = run(s, ids, T, last_only, hooks, logits);
  if (dst != logits) be.copy(logits, dst, size_t((last_only ? 1 : T) * cfg.vocab) * sizeof(float));
  be.sync();
}

int32_t Model::forward_sample(State& s, const int32_t* ids, int64_t T, const SampleArgs& sampling) const {
  const float* logits = run(s, ids, T, true, HookSet(), nullptr);
  return be.sample(logits, cfg.vocab, sampling);
}

const float* Model::run(State& s, const int32_t* ids, int64_t T, bool last_only, const HookSet& hooks, float* host) const {
  NL_CHECK(T > 0, "forward: no tokens");
  NL_CHECK(s.layers.size() == layers.size(), "forward: the state belongs to another model");
  NL_CHECK(s.max_tokens <= 0 || s.length + T <= s.max_tokens,
           "forward: context of " + std::to_string(s.length + T) + " tokens exceeds the state's maxTokens " + std::to_string(s.max_tokens));
  const int64_t H = cfg.H, L = int64_t(layers.size());
  // The hooks live for this call only, even when one throws.
  struct Installed {
    const HookSet*& slot;
    ~Installed() { slot = nullptr; }
  } installed{hooks_};
  hooks_ = hooks.empty() ? nullptr : &hooks;
  float* h = scratch(S_H, T * H);
  float* x = scratch(S_X, T * H);
  float* y = scratch(S_Y, T * H);
  be.embedding(embed, ids, T, h);                                 // (T, H)
  at_hook(-1, H_EMBED, h, T, H, H);
  const int64_t first = last_only ? T - 1 : 0, rows = T - first;
  bool normed = false;  // x already holds this layer's norm (fused into the previous residual add)
  for (int64_t i = 0; i < L; i++) {
    const LayerWeights& w = layers[i];
    const int li = int(i);
    if (!normed) be.rmsnorm(h, T, H, w.vec[R_NORM].data(), cfg.eps, x);
    at_hook(li, H_NORM, x, T, H, H);
    switch (cfg.kinds[i]) {
      case K_MAMBA: mamba(li, w, s.layers[i], s.length == 0, x, T, y); break;
      case K_ATTENTION: attention(li, w, s.layers[i], s.length, x, T, y); break;
      case K_MLP:
        mlp(li, w.mat[R_UP], w.vec[R_UP_B].empty() ? nullptr : w.vec[R_UP_B].data(), w.mat[R_DOWN],
            w.vec[R_DOWN_B].empty() ? nullptr : w.vec[R_DOWN_B].data(), x, T, y, &w.input[R_UP], &w.input[R_DOWN]);
        break;
      case K_MOE: moe(w, x, T, y); break;
      default: NL_CHECK(false, "forward: unknown block kind");
    }
    at_hook(li, H_MIXER, y, T, H, H);
    // residual, fused with the next norm (norm_f over every row, or the one a decode step has)
    // unless a hook may rewrite the block output between the two
    const float* next_norm = i + 1 < L ? layers[size_t(i + 1)].vec[R_NORM].data() : rows == T ? norm_f.data() : nullptr;
    normed = next_norm && !hook(li, H_BLOCK);
    if (normed) be.add_rmsnorm(h, y, T, H, next_norm, cfg.eps, x);
    else be.add(h, y, T * H);
    at_hook(li, H_BLOCK, h, T, H, H);
  }
  s.length += T;
  if (!normed) be.rmsnorm(h + first * H, rows, H, norm_f.data(), cfg.eps, x);
  at_hook(int(L), H_NORM_F, x, rows, H, H);
  // (rows, vocab): straight into the caller's buffer where the backend computes in host memory
  float* dst = be.is_host() && host ? host : scratch(S_LOGITS, rows * cfg.vocab);
  linear(x, rows, lm_head, nullptr, dst, &lm_head_input_);
  return dst;
}

}  // namespace nl
