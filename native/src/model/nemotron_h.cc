// NemotronH forward pass over the backend ops; see nemotron_h.h and nemotron-h.md §4.
#include "model/nemotron_h.h"

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

Model::Model(ModelConfig c) : cfg(std::move(c)) {
  NL_CHECK(cfg.H > 0 && cfg.vocab > 0, "model: hidden size and vocabulary must be positive");
  layers.resize(cfg.kinds.size());
  for (size_t i = 0; i < cfg.kinds.size(); i++) {
    if (cfg.kinds[i] == K_MOE) {
      layers[i].expert_up.resize(cfg.E);
      layers[i].expert_down.resize(cfg.E);
    }
  }
}

void Model::set_matrix(int layer, int role, int expert, const WeightView& w) {
  NL_CHECK(!role_is_vector(role) && role >= 0 && role < R_COUNT, "model: role " + std::to_string(role) + " is not a matrix");
  if (role == R_EMBED) { embed = w; return; }
  if (role == R_LM_HEAD) { lm_head = w; return; }
  NL_CHECK(layer >= 0 && size_t(layer) < layers.size(), "model: layer " + std::to_string(layer) + " out of range");
  LayerWeights& lw = layers[layer];
  if (role == R_EXPERT_UP || role == R_EXPERT_DOWN) {
    NL_CHECK(expert >= 0 && expert < cfg.E, "model: expert " + std::to_string(expert) + " out of range");
    (role == R_EXPERT_UP ? lw.expert_up : lw.expert_down)[expert] = w;
    return;
  }
  lw.mat[role] = w;
}

void Model::set_vector(int layer, int role, const WeightView& w) {
  NL_CHECK(role_is_vector(role), "model: role " + std::to_string(role) + " is not a vector");
  std::vector<float> v(size_t(w.rows * w.cols));
  for (int64_t i = 0; i < w.rows * w.cols; i++) v[i] = element_f32(w.data, w.dtype, i) * w.scale_at(i / w.cols, i % w.cols);
  if (role == R_A_LOG) {
    for (auto& a : v) a = float(-std::exp(double(a)));  // A = -exp(A_log)
  }
  if (role == R_NORM_F) { norm_f = std::move(v); return; }
  NL_CHECK(layer >= 0 && size_t(layer) < layers.size(), "model: layer " + std::to_string(layer) + " out of range");
  layers[layer].vec[role] = std::move(v);
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
      s.layers[i].conv.assign(size_t((cfg.K - 1) * conv_dim), 0.0f);
      s.layers[i].ssm.assign(size_t(cfg.nh * cfg.P * cfg.N), 0.0f);
    }
  }
  return s;
}

void Model::reset(State& s) const {
  s.length = 0;
  for (auto& l : s.layers) {
    std::fill(l.conv.begin(), l.conv.end(), 0.0f);
    std::fill(l.ssm.begin(), l.ssm.end(), 0.0f);
    l.k.clear();
    l.v.clear();
  }
}

// ---------------------------------------------------------------------------------------
void Model::mamba(Backend& be, const LayerWeights& w, LayerState& st, bool fresh, const float* x, int64_t T,
                  float* out) const {
  const int64_t di = cfg.nh * cfg.P, gn = cfg.G * cfg.N, conv_dim = di + 2 * gn, in_out = di + conv_dim + cfg.nh;
  std::vector<float> zx(size_t(T * in_out)), xbc(size_t(T * conv_dim)), dt(size_t(T * cfg.nh)), y(size_t(T * di));
  // 1. in_proj → [z | xBC | dt_raw]                                     (T, in_out)
  be.linear(x, T, w.mat[R_IN_PROJ], w.vec[R_IN_PROJ_B].empty() ? nullptr : w.vec[R_IN_PROJ_B].data(), zx.data());
  // 2. causal depthwise conv + SiLU over xBC, continuing from the conv state   (T, conv_dim)
  be.conv1d_silu(zx.data() + di, in_out, T, conv_dim, cfg.K, w.vec[R_CONV_W].data(),
                 w.vec[R_CONV_B].empty() ? nullptr : w.vec[R_CONV_B].data(), st.conv.data(), xbc.data());
  // 4. dt = softplus(dt_raw + dt_bias), clamped to time_step_limit (and, HF mode, >= time_step_min in the
  //    sequence path, which HF takes unless it decodes one token from a cache)
  const bool hf_prefill = cfg.dt_clamp_min > 0 && !(T == 1 && !fresh);
  const float lo = hf_prefill ? std::max(cfg.dt_lo, cfg.dt_clamp_min) : cfg.dt_lo;
  be.dt_softplus(zx.data() + di + conv_dim, in_out, T, cfg.nh, w.vec[R_DT_BIAS].data(), lo, cfg.dt_hi, dt.data());
  // 5-7. selective scan from the SSM state                                  (T, di)
  SsdArgs a{xbc.data(), xbc.data() + di, xbc.data() + di + gn, conv_dim, conv_dim, dt.data(),
            w.vec[R_A_LOG].data(), w.vec[R_D].data(), T, cfg.nh, cfg.P, cfg.G, cfg.N, cfg.chunk, st.ssm.data(), y.data()};
  if (T == 1) be.ssm_step(a); else be.ssd_scan(a);
  // 8. gated group RMSNorm (gate first), in place over y; 9. out_proj   (T, H)
  be.gated_rmsnorm(y.data(), zx.data(), in_out, T, di, di / cfg.G, w.vec[R_MIXER_NORM].data(), cfg.eps, y.data());
  be.linear(y.data(), T, w.mat[R_OUT_PROJ], w.vec[R_OUT_PROJ_B].empty() ? nullptr : w.vec[R_OUT_PROJ_B].data(), out);
}

void Model::attention(Backend& be, const LayerWeights& w, LayerState& st, int64_t past, const float* x, int64_t T,
                      float* out) const {
  const int64_t qd = cfg.nq * cfg.hd, kvd = cfg.nkv * cfg.hd;
  auto bias = [&](int r) { return w.vec[r].empty() ? nullptr : w.vec[r].data(); };
  std::vector<float> q(size_t(T * qd)), o(size_t(T * qd));
  be.linear(x, T, w.mat[R_Q], bias(R_Q_B), q.data());
  // New keys and values go straight into the cache (no positional encoding to apply).
  st.k.resize(size_t((past + T) * kvd));
  st.v.resize(size_t((past + T) * kvd));
  be.linear(x, T, w.mat[R_K], bias(R_K_B), st.k.data() + past * kvd);
  be.linear(x, T, w.mat[R_V], bias(R_V_B), st.v.data() + past * kvd);
  AttnArgs a{q.data(), st.k.data(), st.v.data(), T, past, cfg.nq, cfg.nkv, cfg.hd, float(1.0 / std::sqrt(double(cfg.hd))), o.data()};
  be.attention(a);
  be.linear(o.data(), T, w.mat[R_O], bias(R_O_B), out);
}

void Model::mlp(Backend& be, const WeightView& up, const float* up_b, const WeightView& down, const float* down_b,
                const float* x, int64_t T, float* out) const {
  std::vector<float> u(size_t(T * up.rows));
  be.linear(x, T, up, up_b, u.data());   // (T, I)
  be.relu2(u.data(), T * up.rows);
  be.linear(u.data(), T, down, down_b, out);  // (T, H)
}

// Router (nemotron-h.md 4.6): σ(x·Wgᵀ); choice = σ + correction bias, restricted to the best
// topk_group groups (scored by the sum of their top two); weights are the un-biased σ of the
// chosen experts, renormalised if norm_topk_prob, times routed_scaling_factor.
void Model::moe(Backend& be, const LayerWeights& w, const float* x, int64_t T, float* out) const {
  const int64_t E = cfg.E, H = cfg.H, k = cfg.topk, ng = std::max<int64_t>(1, cfg.n_group);
  std::vector<float> logits(size_t(T * E));
  be.linear(x, T, w.mat[R_GATE], nullptr, logits.data());
  const float* corr = w.vec[R_GATE_BIAS].empty() ? nullptr : w.vec[R_GATE_BIAS].data();
  std::vector<std::vector<std::pair<int64_t, float>>> routed(E);  // expert → (token, weight)
  std::vector<double> score(E), choice(E);
  std::vector<int64_t> order(E);
  for (int64_t t = 0; t < T; t++) {
    for (int64_t e = 0; e < E; e++) {
      score[e] = 1.0 / (1.0 + std::exp(-double(logits[t * E + e])));
      choice[e] = score[e] + (corr ? corr[e] : 0.0);
    }
    if (ng > 1) {
      const int64_t per = E / ng;
      std::vector<double> gscore(ng);
      for (int64_t g = 0; g < ng; g++) {
        std::vector<double> v(choice.begin() + g * per, choice.begin() + (g + 1) * per);
        std::sort(v.begin(), v.end(), std::greater<double>());
        gscore[g] = v[0] + (per > 1 ? v[1] : 0.0);
      }
      std::vector<int64_t> gorder(ng);
      std::iota(gorder.begin(), gorder.end(), 0);
      std::stable_sort(gorder.begin(), gorder.end(), [&](int64_t a, int64_t b) { return gscore[a] > gscore[b]; });
      for (int64_t r = cfg.topk_group; r < ng; r++)
        for (int64_t e = gorder[r] * per; e < (gorder[r] + 1) * per; e++) choice[e] = -INFINITY;
    }
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return choice[a] > choice[b]; });
    double sum = 0;
    for (int64_t j = 0; j < k; j++) sum += score[order[j]];
    for (int64_t j = 0; j < k; j++) {
      double wt = score[order[j]];
      if (cfg.norm_topk) wt /= (sum + 1e-20);
      routed[order[j]].push_back({t, float(wt * cfg.routed_scale)});
    }
  }
  // Experts work in the latent space when fc1/fc2_latent_proj exist.
  const bool latent = !w.mat[R_FC1_LATENT].empty();
  const int64_t inner = latent ? w.mat[R_FC1_LATENT].rows : H;
  std::vector<float> xin;
  const float* xe = x;
  if (latent) {
    xin.resize(size_t(T * inner));
    be.linear(x, T, w.mat[R_FC1_LATENT], nullptr, xin.data());
    xe = xin.data();
  }
  std::vector<float> acc(size_t(T * inner), 0.0f);
  for (int64_t e = 0; e < E; e++) {
    const auto& r = routed[e];
    if (r.empty()) continue;
    const int64_t n = int64_t(r.size());
    std::vector<float> xg(size_t(n * inner)), yg(size_t(n * inner));
    for (int64_t j = 0; j < n; j++) std::copy(xe + r[j].first * inner, xe + (r[j].first + 1) * inner, xg.begin() + j * inner);
    mlp(be, w.expert_up[e], nullptr, w.expert_down[e], nullptr, xg.data(), n, yg.data());
    for (int64_t j = 0; j < n; j++)
      for (int64_t c = 0; c < inner; c++) acc[r[j].first * inner + c] += r[j].second * yg[j * inner + c];
  }
  if (latent) be.linear(acc.data(), T, w.mat[R_FC2_LATENT], nullptr, out);
  else std::copy(acc.begin(), acc.end(), out);
  if (!w.mat[R_SHARED_UP].empty()) {
    std::vector<float> s(size_t(T * H));
    mlp(be, w.mat[R_SHARED_UP], nullptr, w.mat[R_SHARED_DOWN], nullptr, x, T, s.data());
    be.add(out, s.data(), T * H);
  }
}

// ---------------------------------------------------------------------------------------
void Model::forward(Backend& be, State& s, const int32_t* ids, int64_t T, bool last_only, float* logits,
                    const std::vector<Capture>& caps) const {
  NL_CHECK(T > 0, "forward: no tokens");
  NL_CHECK(s.layers.size() == layers.size(), "forward: the state belongs to another model");
  NL_CHECK(s.max_tokens <= 0 || s.length + T <= s.max_tokens,
           "forward: context of " + std::to_string(s.length + T) + " tokens exceeds the state's maxTokens " + std::to_string(s.max_tokens));
  const int64_t H = cfg.H, L = int64_t(layers.size());
  auto capture = [&](int layer, int point, const float* src) {
    for (const Capture& c : caps)
      if (c.layer == layer && c.point == point) std::copy(src, src + T * H, c.buf);
  };
  std::vector<float> h(size_t(T * H)), x(size_t(T * H)), y(size_t(T * H));
  be.embedding(embed, ids, T, h.data());                          // (T, H)
  capture(-1, H_EMBED, h.data());
  for (int64_t i = 0; i < L; i++) {
    const LayerWeights& w = layers[i];
    be.rmsnorm(h.data(), T, H, w.vec[R_NORM].data(), cfg.eps, x.data());
    capture(int(i), H_NORM, x.data());
    switch (cfg.kinds[i]) {
      case K_MAMBA: mamba(be, w, s.layers[i], s.length == 0, x.data(), T, y.data()); break;
      case K_ATTENTION: attention(be, w, s.layers[i], s.length, x.data(), T, y.data()); break;
      case K_MLP:
        mlp(be, w.mat[R_UP], w.vec[R_UP_B].empty() ? nullptr : w.vec[R_UP_B].data(), w.mat[R_DOWN],
            w.vec[R_DOWN_B].empty() ? nullptr : w.vec[R_DOWN_B].data(), x.data(), T, y.data());
        break;
      case K_MOE: moe(be, w, x.data(), T, y.data()); break;
      default: NL_CHECK(false, "forward: unknown block kind");
    }
    capture(int(i), H_MIXER, y.data());
    be.add(h.data(), y.data(), T * H);                            // residual
    capture(int(i), H_BLOCK, h.data());
  }
  s.length += T;
  const int64_t first = last_only ? T - 1 : 0, rows = T - first;
  be.rmsnorm(h.data() + first * H, rows, H, norm_f.data(), cfg.eps, x.data());
  capture(int(L), H_NORM_F, x.data());  // (only meaningful with all rows)
  be.linear(x.data(), rows, lm_head, nullptr, logits);            // (rows, vocab)
}

}  // namespace nl
