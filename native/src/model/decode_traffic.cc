// See decode_traffic.h. The planning backend hands out address ranges that are never touched
// (no op computes), so a 9B-shaped model with a 128k-token state costs no memory; its matrices
// are views of one byte (only their shapes and dtypes are read).
#include "model/decode_traffic.h"

#include <map>

#include "cuda/plan.h"

namespace nl {

namespace {

using cuda::Launch;

struct TrafficBackend : Backend {
  DecodeTraffic t;
  std::map<std::string, size_t> at;  // kernel -> index in t.kernels
  uintptr_t next = uintptr_t(1) << 32;

  const char* name() const override { return "cuda launch plans"; }
  bool is_host() const override { return false; }
  void* alloc(size_t bytes) override {
    void* p = reinterpret_cast<void*>(next);
    next += (bytes + 255) / 256 * 256 + 256;
    return p;
  }
  void free(void*) override {}
  void copy(void*, const void*, size_t) override {}
  void zero(void*, size_t) override {}

  void add(const Launch& l) {
    auto it = at.find(l.kernel);
    if (it == at.end()) {
      it = at.emplace(l.kernel, t.kernels.size()).first;
      t.kernels.push_back({l.kernel, 0, 0, 0});
    }
    KernelTraffic& k = t.kernels[it->second];
    const bool kernel = l.grid_x > 0;  // grid 0: a host copy, not a launch
    k.launches += kernel;
    t.launches += kernel;
    k.read += l.read;
    k.write += l.write;
    t.moved += l.read + l.write;
  }
  [[noreturn]] static void unplanned(const char* op) {
    throw Error(std::string("decode traffic: ") + op + " is not part of the planned decode step");
  }

  void linear(const float*, int64_t T, const StoredMatrix& w, const float* bias, float*) override {
    add(cuda::linear_plan(T, w, bias != nullptr, true).launch);  // device allocations are aligned
  }
  void embedding(const StoredMatrix& e, const int32_t*, int64_t T, float*) override { add(cuda::embedding_upload_plan(T, e.cols)); }
  void rmsnorm(const float*, int64_t T, int64_t n, const float*, float, float*) override { add(cuda::rmsnorm_plan(T, n)); }
  void add_rmsnorm(float*, const float*, int64_t T, int64_t n, const float*, float, float*) override {
    add(cuda::add_rmsnorm_plan(T, n));
  }
  void gated_rmsnorm(const float*, const float*, int64_t, int64_t T, int64_t n, int64_t group, const float*, float,
                     float*) override {
    add(cuda::gated_rmsnorm_plan(T, n, group));
  }
  void conv1d_silu(const float*, int64_t, int64_t T, int64_t C, int64_t K, const float*, const float* b, float*,
                   float*) override {
    add(cuda::conv1d_plan(T, C, K, b != nullptr));
  }
  void dt_softplus(const float*, int64_t, int64_t T, int64_t nh, const float*, float, float, float*) override {
    add(cuda::dt_softplus_plan(T, nh));
  }
  void ssd_scan(const SsdArgs& a) override { add(cuda::ssm_scan_plan(a)); }
  void ssm_step(const SsdArgs& a) override { add(cuda::ssm_scan_plan(a)); }
  void attention(const AttnArgs& a) override {
    const cuda::AttentionPlan p = cuda::attention_plan(a);
    add(p.main);
    if (p.splits > 1) add(p.merge);
  }
  void relu2(float*, int64_t n) override { add(cuda::relu2_plan(n)); }
  void add(float*, const float*, int64_t n) override { add(cuda::add_plan(n)); }
  void to_storage(const float*, int64_t n, DType storage, void*) override {
    if (storage != DType::BF16) unplanned("an fp32 to_storage");
    add(cuda::to_bf16_plan(n));
  }
  int32_t sample(const float*, int64_t n, const SampleArgs& a) override {
    add(cuda::sample_plan(n, a));
    return 0;
  }
  float amax(const float*, int64_t, int64_t, int64_t) override { unplanned("amax"); }
  void fake_quant_fp8(const float*, int64_t, int64_t, int64_t, Fp8Format, bool, float, float*, int64_t) override {
    unplanned("fake_quant_fp8");
  }
  void round_to(float*, int64_t, DType) override { unplanned("round_to"); }
  void moe_route(const float*, int64_t, const MoeRouting&, int32_t*, float*) override { unplanned("moe_route"); }
  void gather_rows(const float*, int64_t, const int32_t*, int64_t, float*) override { unplanned("gather_rows"); }
  void scatter_add_rows(const float*, int64_t, const int32_t*, const float*, int64_t, float*) override {
    unplanned("scatter_add_rows");
  }
};

}  // namespace

DecodeTraffic cuda_decode_traffic(const ModelConfig& cfg, DType linear_dtype, int64_t mlp_inner, int64_t context) {
  NL_CHECK(context >= 0 && context < 131072, "decode traffic: context must be in [0, 131072)");
  for (int k : cfg.kinds) NL_CHECK(k != K_MOE, "decode traffic: MoE layers are not planned");
  NL_CHECK(cfg.ssm_dtype == SD_F32 && cfg.kv_dtype != SD_FP8_E4M3, "decode traffic: the what-if state dtypes are not planned");
  TrafficBackend be;
  double weights = 0;
  {
    Model m(cfg, be);
    static const uint8_t byte = 0;
    static const float unit_scale = 1.0f;
    std::vector<std::vector<float>> vectors;
    const bool fp8 = linear_dtype == DType::F8_E4M3 || linear_dtype == DType::F8_E5M2;
    auto mat = [&](int layer, int role, int64_t rows, int64_t cols, DType dt) {
      StoredMatrix w;
      w.data = &byte;
      w.dtype = dt;
      w.rows = rows;
      w.cols = cols;
      if (dt == linear_dtype && fp8) { w.scale = &unit_scale; w.block_rows = rows; w.block_cols = cols; }  // per tensor
      m.set_matrix(layer, role, 0, w);
      if (role != R_EMBED) weights += double(w.bytes()) + (w.scale ? double(w.scale_count()) * 4 : 0);
    };
    auto vec = [&](int layer, int role, int64_t n) {
      vectors.emplace_back(size_t(n), 1.0f);
      StoredMatrix w;
      w.data = reinterpret_cast<const uint8_t*>(vectors.back().data());
      w.dtype = DType::F32;
      w.rows = 1;
      w.cols = n;
      m.set_vector(layer, role, w);
      weights += double(n) * 4;
    };
    for (const WeightSlot& w : weight_slots(cfg, mlp_inner)) {
      if (role_is_vector(w.role)) vec(w.layer, w.role, w.cols);
      else mat(w.layer, w.role, w.rows, w.cols, w.layer < 0 ? DType::BF16 : linear_dtype);  // embeddings and lm_head BF16
    }
    m.check_complete();
    State s = m.new_state(context + 1);
    s.length = context;
    const int32_t token = 0;
    m.forward_sample(s, &token, 1, SampleArgs());  // greedy
    // The bytes no decode step avoids: the weights once, the KV cache read with its new row
    // written, the Mamba states read and written, one BF16 embedding row.
    const int64_t conv_dim = cfg.nh * cfg.P + 2 * cfg.G * cfg.N;
    double state = 0;
    for (int k : cfg.kinds) {
      if (k == K_MAMBA) state += 2.0 * double((cfg.K - 1) * conv_dim + cfg.nh * cfg.P * cfg.N) * 4;
      if (k == K_ATTENTION) state += double(context + 2) * double(m.kv_row_bytes()) * 2;
    }
    be.t.unavoidable = weights + state + double(cfg.H) * 2;
  }
  be.t.weights = weights;
  return be.t;
}

}  // namespace nl
