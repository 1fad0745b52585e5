// The device check: one standalone program (no Node) that tells, in one run, whether the CUDA
// backend is right and how fast it is. Built and run by native/dev/cuda-check.sh (see
// native/dev/README.md); with --dry-run (no CUDA) the "device" is the reference backend, so
// CI runs the same harness on the CPU and keeps it from rotting.
//
//   1. ops:   every backend op on the device against the CPU backend, at labelled Nano-9B
//             shapes and at awkward small ones (the cases of test/kernels.test.ts), by
//             normalised error max|dev - cpu| / max|cpu|;
//   2. model: the whole NemotronH forward (prefill + decode) on a small random model and on a
//             9B-shaped one with random FP8 weights made in memory: device logits vs CPU
//             logits (relative <= 1e-3), and greedy tokens equal on the small one;
//   3. speed: device copy bandwidth first, then decode tok/s (batch 1, FP8 and BF16, at 1k and
//             32k context) beside the bandwidth limit, prefill of 4k tokens, and the device
//             memory a 9B FP8 model with a 128k-token state uses.
// Every check prints one line `RESULT <section> <name> | <figure> | <limit> | PASS|FAIL|INFO`;
// the script turns those lines into the table at the end, even if a later step times out.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"
#include "fp8.h"
#include "model/nemotron_h.h"
#include "thread_pool.h"
#ifdef NL_WITH_CUDA
#include <cuda_runtime.h>
#endif

using namespace nl;

namespace {

bool g_dry = false;
int g_fail = 0;
const auto g_start = std::chrono::steady_clock::now();

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void result(const char* section, const std::string& name, const std::string& figure, const std::string& limit,
            const char* verdict) {
  if (std::strcmp(verdict, "FAIL") == 0) g_fail++;
  std::printf("RESULT %s %s | %s | %s | %s\n", section, name.c_str(), figure.c_str(), limit.c_str(), verdict);
  std::fflush(stdout);
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

// --- random data (splitmix64: fast, and the same on every machine) -------------------------
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) { return lo + (hi - lo) * float(next() >> 40) * (1.0f / 16777216.0f); }
};

std::vector<float> uniform(Rng& r, size_t n, float lo, float hi) {
  std::vector<float> v(n);
  for (auto& x : v) x = r.uniform(lo, hi);
  return v;
}

// Stored weights of magnitude ~[0.125, 2) x 2^shift x sign in any dtype, filled on all threads
// (the 9B model is ~9 GB of FP8): random mantissas and signs with exponents in a band of four.
// FP8 ignores `shift` (its range is small: FP8 weights carry a scale instead).
std::vector<uint8_t> random_weights(DType t, int64_t n, uint64_t seed, int shift) {
  std::vector<uint8_t> b(size_t(n) * dtype_size(t));
  // Per dtype: the mask keeping sign + mantissa of every lane, the exponent field's position,
  // and the lowest exponent of the band, repeated over the lanes of a 64-bit word.
  uint64_t keep, lane_one;
  int ebit, ebase;
  switch (t) {
    case DType::F8_E4M3: keep = 0x8787878787878787ull; lane_one = 0x0101010101010101ull; ebit = 3; ebase = 4; break;
    case DType::F8_E5M2: keep = 0x8383838383838383ull; lane_one = 0x0101010101010101ull; ebit = 2; ebase = 12; break;
    case DType::BF16: keep = 0x807f807f807f807full; lane_one = 0x0001000100010001ull; ebit = 7; ebase = 124 + shift; break;
    case DType::F16: keep = 0x83ff83ff83ff83ffull; lane_one = 0x0001000100010001ull; ebit = 10; ebase = 12 + shift; break;
    default: keep = 0x807fffff807fffffull; lane_one = 0x0000000100000001ull; ebit = 23; ebase = 124 + shift; break;
  }
  NL_CHECK(ebase >= 1, "random_weights: magnitude below the dtype's normal range");
  const uint64_t band = lane_one * 3, base = lane_one * uint64_t(ebase);
  const size_t words = b.size() / 8;
  parallel_for(words, 1 << 16, [&](size_t lo, size_t hi) {
    Rng r(seed * 0x100000001b3ull + lo);
    for (size_t i = lo; i < hi; i++) {
      const uint64_t x = r.next(), w = (x & keep) | ((((x >> ebit) & band) + base) << ebit);
      std::memcpy(b.data() + i * 8, &w, 8);
    }
  });
  for (size_t i = words * 8; i < b.size(); i++) b[i] = 0;  // a tail shorter than a word: zeros
  return b;
}

// A stored weight with its scale grid; the bytes live as long as the object.
struct HostWeight {
  std::vector<uint8_t> bytes;
  std::vector<float> scale;
  StoredMatrix view;
};

enum class ScaleKind { None, Tensor, Row, Block };

HostWeight make_weight(DType t, int64_t rows, int64_t cols, ScaleKind sk, int64_t block, uint64_t seed,
                       float magnitude) {
  HostWeight w;
  const bool fp8 = t == DType::F8_E4M3 || t == DType::F8_E5M2;
  // Unscaled 16/32-bit weights carry their magnitude in the values; scaled ones in the scales.
  const int shift = sk == ScaleKind::None && !fp8 ? int(std::lround(std::log2(magnitude))) : 0;
  w.bytes = random_weights(t, rows * cols, seed, shift);
  w.view.data = w.bytes.data();
  w.view.dtype = t;
  w.view.rows = rows;
  w.view.cols = cols;
  int64_t br = 1, bc = 1;
  if (sk == ScaleKind::Tensor) br = rows, bc = cols;
  if (sk == ScaleKind::Row) br = 1, bc = cols;
  if (sk == ScaleKind::Block) br = bc = block;
  if (sk != ScaleKind::None) {
    Rng r(seed ^ 0x5ca1e);
    w.scale = uniform(r, size_t(scale_grid_count(rows, cols, br, bc)), 0.5f * magnitude, 1.5f * magnitude);
    w.view.scale = w.scale.data();
    w.view.block_rows = br;
    w.view.block_cols = bc;
  }
  return w;
}

// --- backend memory for one case ------------------------------------------------------------
// Activations must be the backend's own memory (device memory on CUDA); weights and the small
// fp32 vectors are host memory the backend uploads and caches, so they are forgotten after.
struct Arena {
  Backend& be;
  std::vector<void*> owned;
  std::vector<const void*> weights;
  explicit Arena(Backend& b) : be(b) {}
  ~Arena() {
    for (const void* w : weights) be.forget_weight(w);
    for (void* p : owned) be.free(p);
  }
  template <class T>
  T* in(const std::vector<T>& h) {
    void* p = be.alloc(std::max<size_t>(h.size(), 1) * sizeof(T));
    owned.push_back(p);
    be.copy(p, h.data(), h.size() * sizeof(T));
    return static_cast<T*>(p);
  }
  float* out(size_t n) {
    void* p = be.alloc(std::max<size_t>(n, 1) * sizeof(float));
    owned.push_back(p);
    return static_cast<float*>(p);
  }
  const float* vec(const std::vector<float>& h) {
    if (h.empty()) return nullptr;
    weights.push_back(h.data());
    return h.data();
  }
  const StoredMatrix& weight(const StoredMatrix& w) {
    weights.push_back(w.data);
    if (w.scale) weights.push_back(w.scale);
    return w;
  }
  template <class T>
  std::vector<T> get(const T* p, size_t n) {
    be.sync();
    std::vector<T> h(n);
    be.copy(h.data(), p, n * sizeof(T));
    return h;
  }
};

std::vector<uint16_t> bf16_bits(const std::vector<float>& x) {
  std::vector<uint16_t> b(x.size());
  for (size_t i = 0; i < x.size(); i++) b[i] = f32_to_bf16(x[i]);
  return b;
}

double norm_err(const std::vector<float>& a, const std::vector<float>& ref) {
  double d = 0, m = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    double e = std::fabs(double(a[i]) - double(ref[i]));
    if (!(e <= d)) d = std::isnan(e) ? INFINITY : e;
    m = std::max(m, std::fabs(double(ref[i])));
  }
  return m == 0 ? d : d / m;
}

// Runs `op` on the CPU backend and on the device, each with its own arena, compares output.
using OpFn = std::function<std::vector<float>(Arena&)>;
void op_case(Backend& dev, const std::string& label, double bound, const OpFn& op) {
  try {
    std::vector<float> want, got;
    { Arena a(cpu_backend()); want = op(a); }
    { Arena a(dev); got = op(a); }
    const double e = norm_err(got, want);
    result("ops", label, fmt("%.2e", e), fmt("<= %.0e", bound), e <= bound ? "PASS" : "FAIL");
  } catch (const std::exception& ex) {
    result("ops", label, std::string("error: ") + ex.what(), fmt("<= %.0e", bound), "FAIL");
  }
}

// --- 1. ops -----------------------------------------------------------------------------------
struct LinearCase {
  const char* label;
  int64_t rows, cols, T;
  DType dtype;
  ScaleKind scale;
  int64_t block;
  bool bias;
};

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "F32";
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
    case DType::F8_E4M3: return "E4M3";
    case DType::F8_E5M2: return "E5M2";
    default: return "?";
  }
}
const char* scale_name(ScaleKind s) {
  switch (s) {
    case ScaleKind::None: return "";
    case ScaleKind::Tensor: return " tensor-scale";
    case ScaleKind::Row: return " row-scale";
    default: return " block-scale";
  }
}

void check_ops(Backend& dev) {
  const double kLinear = 1e-4, kExact = 1e-6, kElem = 1e-5, kScan = 1e-4;
  // The T <= 8 cases take the matvec path on both backends, the larger ones the GEMM path.
  const std::vector<LinearCase> linear_cases = {
      {"Nano-9B mamba in_proj 22656x4480 matvec", 22656, 4480, 1, DType::BF16, ScaleKind::None, 0, false},
      {"Nano-9B mamba in_proj 22656x4480 matvec", 22656, 4480, 1, DType::F8_E4M3, ScaleKind::Tensor, 0, false},
      {"Nano-9B mlp down_proj 4480x15680 matvec", 4480, 15680, 1, DType::F8_E4M3, ScaleKind::Block, 128, false},
      {"Nano-9B mlp up_proj 15680x4480 matvec", 15680, 4480, 1, DType::F8_E5M2, ScaleKind::Row, 0, false},
      {"Nano-9B attention k_proj 1024x4480 matvec", 1024, 4480, 1, DType::F16, ScaleKind::None, 0, false},
      {"Nano-9B attention o_proj 4480x5120 matvec", 4480, 5120, 1, DType::F32, ScaleKind::None, 0, false},
      {"Nano-9B lm_head 131072x4480 matvec", 131072, 4480, 1, DType::BF16, ScaleKind::None, 0, false},
      {"Nano-9B mamba out_proj 4480x10240, 3 tokens", 4480, 10240, 3, DType::BF16, ScaleKind::None, 0, false},
      {"Nano-9B mamba out_proj 4480x10240, 8 tokens", 4480, 10240, 8, DType::F8_E4M3, ScaleKind::Tensor, 0, false},
      {"Nano-9B mamba in_proj prefill 256 tokens", 22656, 4480, 256, DType::F8_E4M3, ScaleKind::Tensor, 0, false},
      {"Nano-9B mlp down_proj prefill 200 tokens", 4480, 15680, 200, DType::F8_E4M3, ScaleKind::Block, 128, false},
      {"Nano-9B attention q_proj prefill 129 tokens", 5120, 4480, 129, DType::BF16, ScaleKind::None, 0, true},
      {"awkward 37x13, 1 token (no vector path)", 37, 13, 1, DType::BF16, ScaleKind::None, 0, true},
      {"awkward 37x13, 5 tokens", 37, 13, 5, DType::F8_E4M3, ScaleKind::Block, 16, false},
      {"awkward 130x72, 9 tokens, partial blocks", 130, 72, 9, DType::F8_E4M3, ScaleKind::Block, 16, true},
      {"awkward 65x264, 70 tokens", 65, 264, 70, DType::F16, ScaleKind::Row, 0, false},
      {"awkward 100x72, 20 tokens (tensor-core tile edges)", 100, 72, 20, DType::F8_E5M2, ScaleKind::Row, 0, true},
      {"awkward 130x200, 33 tokens, 64-blocks (tensor-core block scales)", 130, 200, 33, DType::F8_E4M3, ScaleKind::Block, 64, false},
      {"awkward 70x40, 65 tokens (tensor cores, BF16)", 70, 40, 65, DType::BF16, ScaleKind::None, 0, false},
      {"awkward 3x8, 1 token", 3, 8, 1, DType::F32, ScaleKind::None, 0, false},
  };
  uint64_t seed = 1;
  for (const LinearCase& c : linear_cases) {
    if (g_dry && c.rows * c.cols * c.T > int64_t(4e9)) continue;  // the fp64 reference would take minutes
    HostWeight w = make_weight(c.dtype, c.rows, c.cols, c.scale, c.block, seed++, 0.02f);
    Rng r(seed++);
    const std::vector<float> x = uniform(r, size_t(c.T * c.cols), -1, 1);
    const std::vector<float> bias = c.bias ? uniform(r, size_t(c.rows), -1, 1) : std::vector<float>();
    const std::string label = std::string("linear ") + c.label + " " + dtype_name(c.dtype) + scale_name(c.scale);
    op_case(dev, label, kLinear, [&](Arena& a) {
      float* y = a.out(size_t(c.T * c.rows));
      a.be.linear(a.in(x), c.T, a.weight(w.view), a.vec(bias), y);
      return a.get(y, size_t(c.T * c.rows));
    });
  }
  {
    HostWeight e = make_weight(DType::BF16, g_dry ? 4096 : 131072, 4480, ScaleKind::None, 0, seed++, 1);
    const std::vector<int32_t> ids = {0, 7, 1, int32_t(e.view.rows - 1), 4095, 12, 7};
    op_case(dev, "embedding Nano-9B 131072x4480 BF16, 7 ids", 0, [&](Arena& a) {
      float* out = a.out(ids.size() * 4480);
      a.be.embedding(a.weight(e.view), ids.data(), int64_t(ids.size()), out);
      return a.get(out, ids.size() * 4480);
    });
  }
  Rng r(99);
  for (auto [T, n] : {std::pair<int64_t, int64_t>{5, 4480}, {3, 13}}) {
    const auto x = uniform(r, size_t(T * n), -2, 2), w = uniform(r, size_t(n), 0.5f, 1.5f);
    op_case(dev, "rmsnorm " + std::to_string(T) + "x" + std::to_string(n), kElem, [&](Arena& a) {
      float* y = a.out(size_t(T * n));
      a.be.rmsnorm(a.in(x), T, n, a.vec(w), 1e-5f, y);
      return a.get(y, size_t(T * n));
    });
  }
  struct Gated { const char* label; int64_t T, n, group, ldz; };
  for (const Gated& g : {Gated{"gated_rmsnorm Nano-9B 3x10240, groups of 1280", 3, 10240, 1280, 22656},
                         Gated{"gated_rmsnorm awkward 2x24, groups of 8", 2, 24, 8, 31}}) {
    const auto y = uniform(r, size_t(g.T * g.n), -2, 2), z = uniform(r, size_t(g.T * g.ldz), -3, 3),
               w = uniform(r, size_t(g.n), 0.5f, 1.5f);
    op_case(dev, g.label, kElem, [&](Arena& a) {
      float* out = a.out(size_t(g.T * g.n));
      a.be.gated_rmsnorm(a.in(y), a.in(z), g.ldz, g.T, g.n, g.group, a.vec(w), 1e-5f, out);
      return a.get(out, size_t(g.T * g.n));
    });
  }
  struct Conv { const char* label; int64_t T, C, K, ld; };
  for (const Conv& c : {Conv{"conv1d_silu Nano-9B decode step, 12288 channels", 1, 12288, 4, 22656},
                        Conv{"conv1d_silu Nano-9B prefill 64 tokens", 64, 12288, 4, 22656},
                        Conv{"conv1d_silu awkward 5 tokens, 7 channels, K=3", 5, 7, 3, 9}}) {
    const auto in = uniform(r, size_t(c.T * c.ld), -1, 1), w = uniform(r, size_t(c.C * c.K), -0.5f, 0.5f),
               b = uniform(r, size_t(c.C), -0.1f, 0.1f), st = uniform(r, size_t((c.K - 1) * c.C), -1, 1);
    op_case(dev, c.label, kElem, [&](Arena& a) {
      float* state = a.in(st);
      float* out = a.out(size_t(c.T * c.C));
      a.be.conv1d_silu(a.in(in), c.ld, c.T, c.C, c.K, a.vec(w), a.vec(b), state, out);
      std::vector<float> o = a.get(out, size_t(c.T * c.C)), s = a.get(state, st.size());
      o.insert(o.end(), s.begin(), s.end());  // the advanced conv state must agree too
      return o;
    });
  }
  {
    const int64_t T = 9, nh = 128, ld = 130;
    const auto raw = uniform(r, size_t(T * ld), -8, 4), bias = uniform(r, size_t(nh), -2, 0);
    op_case(dev, "dt_softplus Nano-9B 9x128, clamped to [1e-3, 0.1]", kElem, [&](Arena& a) {
      float* dt = a.out(size_t(T * nh));
      a.be.dt_softplus(a.in(raw), ld, T, nh, a.vec(bias), 1e-3f, 0.1f, dt);
      return a.get(dt, size_t(T * nh));
    });
  }
  struct Scan { const char* label; int64_t T, nh, P, G, N, chunk; };
  for (const Scan& s : {Scan{"ssd_scan Nano-9B 300 tokens (chunk 128)", 300, 128, 80, 8, 128, 128},
                        Scan{"ssm_step Nano-9B decode step", 1, 128, 80, 8, 128, 128},
                        Scan{"ssd_scan awkward 37 tokens, chunk 16, 3 heads, 2 groups", 37, 4, 5, 2, 6, 16}}) {
    const int64_t di = s.nh * s.P, gn = s.G * s.N, ld = di + 2 * gn;
    const auto xbc = uniform(r, size_t(s.T * ld), -1, 1), dt = uniform(r, size_t(s.T * s.nh), 0.001f, 0.1f),
               A = uniform(r, size_t(s.nh), -8, -1), D = uniform(r, size_t(s.nh), 0.5f, 1.5f),
               st = uniform(r, size_t(s.nh * s.P * s.N), -0.5f, 0.5f);
    op_case(dev, s.label, kScan, [&](Arena& a) {
      float* x = a.in(xbc);
      float* state = a.in(st);
      float* y = a.out(size_t(s.T * di));
      SsdArgs args{x, x + di, x + di + gn, ld, ld, a.in(dt), a.vec(A), a.vec(D), s.T, s.nh, s.P, s.G, s.N, s.chunk,
                   state, y};
      if (s.T == 1) a.be.ssm_step(args); else a.be.ssd_scan(args);
      std::vector<float> o = a.get(y, size_t(s.T * di)), f = a.get(state, st.size());
      o.insert(o.end(), f.begin(), f.end());
      return o;
    });
  }
  struct Attn { const char* label; int64_t T, past, nq, nkv, hd; };
  for (const Attn& c : {Attn{"attention Nano-9B decode over 1000 positions", 1, 1000, 40, 8, 128},
                        Attn{"attention Nano-9B decode over 20000 positions (split keys)", 1, 20000, 40, 8, 128},
                        Attn{"attention Nano-9B prefill 200 tokens", 200, 0, 40, 8, 128},
                        Attn{"attention awkward 5 new over 17 past, 6 heads / 3 kv, hd 12", 5, 17, 6, 3, 12}}) {
    const int64_t L = c.past + c.T;
    const auto q = uniform(r, size_t(c.T * c.nq * c.hd), -1, 1), k = uniform(r, size_t(L * c.nkv * c.hd), -1, 1),
               v = uniform(r, size_t(L * c.nkv * c.hd), -1, 1);
    op_case(dev, c.label, kElem, [&](Arena& a) {
      float* out = a.out(q.size());
      AttnArgs args{a.in(q), a.in(k), a.in(v), c.T, c.past, c.nq, c.nkv, c.hd, float(1 / std::sqrt(double(c.hd))), out};
      a.be.attention(args);
      return a.get(out, q.size());
    });
    if (c.T > 5) continue;
    // The same over a BF16 cache (the CUDA default): both backends read the same BF16 values.
    const auto k16 = bf16_bits(k), v16 = bf16_bits(v);
    op_case(dev, std::string(c.label) + ", BF16 KV", kElem, [&](Arena& a) {
      float* out = a.out(q.size());
      AttnArgs args{a.in(q), a.in(k16), a.in(v16), c.T, c.past, c.nq, c.nkv, c.hd, float(1 / std::sqrt(double(c.hd))), out,
                    DType::BF16};
      a.be.attention(args);
      return a.get(out, q.size());
    });
  }
  {
    const auto x = uniform(r, 5 * 1024 + 3, -300, 300);
    op_case(dev, "to_storage bf16 5x1024+3 (the KV cache write)", kExact, [&](Arena& a) {
      uint16_t* d = a.in(std::vector<uint16_t>(x.size()));
      a.be.to_storage(a.in(x), int64_t(x.size()), DType::BF16, d);
      std::vector<uint16_t> h = a.get(d, x.size());
      std::vector<float> o(h.size());
      for (size_t i = 0; i < h.size(); i++) o[i] = bf16_to_f32(h[i]);
      return o;
    });
  }
  {
    const auto x = uniform(r, 3 * 15680 + 5, -2, 2), y = uniform(r, 3 * 15680 + 5, -2, 2);
    op_case(dev, "relu2 3x15680+5", kExact, [&](Arena& a) {
      float* p = a.in(x);
      a.be.relu2(p, int64_t(x.size()));
      return a.get(p, x.size());
    });
    op_case(dev, "add 3x15680+5", kExact, [&](Arena& a) {
      float* p = a.in(x);
      a.be.add(p, a.in(y), int64_t(x.size()));
      return a.get(p, x.size());
    });
  }
  for (int64_t T : {int64_t(1), int64_t(7)}) {  // the decode step's residual add + next norm, and a prefill's
    const int64_t n = 4480;
    const auto h = uniform(r, size_t(T * n), -2, 2), y = uniform(r, size_t(T * n), -2, 2), w = uniform(r, size_t(n), 0.5f, 1.5f);
    op_case(dev, "add_rmsnorm Nano-9B " + std::to_string(T) + "x4480 (h and x)", kElem, [&](Arena& a) {
      float* hp = a.in(h);
      float* xp = a.out(h.size());
      a.be.add_rmsnorm(hp, a.in(y), T, n, a.vec(w), 1e-5f, xp);
      std::vector<float> o = a.get(hp, h.size()), xo = a.get(xp, h.size());
      o.insert(o.end(), xo.begin(), xo.end());
      return o;
    });
  }
  {  // sampling on the device: the tokens (as floats) for a set of settings and draws; equal or FAIL
    const int64_t V = 131072;
    auto logits = uniform(r, size_t(V), -8, 8);
    for (int64_t i = 0; i < 4096; i++) logits[size_t(i)] = std::round(logits[size_t(i)]);  // exact ties
    const std::vector<int32_t> context = {3, 17, 17, 4095, 131071};
    struct S { const char* label; double temperature; int64_t top_k; double top_p, min_p, penalty; };
    for (const S& c : {S{"greedy", 0, 0, 1, 0, 1}, S{"greedy, repetition penalty 1.3", 0, 0, 1, 0, 1.3},
                       S{"temperature 0.7", 0.7, 0, 1, 0, 1}, S{"top-k 40", 0.8, 40, 1, 0, 1},
                       S{"top-p 0.9", 1.2, 0, 0.9, 0, 1}, S{"top-k 50 + top-p 0.95 + min-p 0.05, penalty 1.2", 1, 50, 0.95, 0.05, 1.2}}) {
      op_case(dev, std::string("sample 131072 logits, ") + c.label + ", 16 draws", kExact, [&](Arena& a) {
        const float* l = a.in(logits);
        std::vector<float> ids;
        for (int j = 0; j < 16; j++) {
          SampleArgs s;
          s.temperature = c.temperature; s.top_k = c.top_k; s.top_p = c.top_p; s.min_p = c.min_p; s.repetition_penalty = c.penalty;
          s.context = context.data(); s.n_context = int64_t(context.size()); s.u = (j + 0.5) / 16;
          ids.push_back(float(a.be.sample(l, V, s)));
        }
        return ids;
      });
    }
  }
  {  // activation fake quantization at the Nano-9B MLP input (3 tokens of down_proj's 15680)
    auto x = uniform(r, 3 * 15680, -30, 30);
    x[7] = INFINITY;  // skipped by amax; its dynamic row falls back to scale 1
    op_case(dev, "amax 3x15680 (an infinity skipped)", kExact, [&](Arena& a) {
      return std::vector<float>{a.be.amax(a.in(x), int64_t(x.size()), 1, int64_t(x.size()))};
    });
    for (const bool dyn : {false, true})
      for (const Fp8Format f : {Fp8Format::E4M3, Fp8Format::E5M2})
        op_case(dev, std::string("fake_quant_fp8 3x15680 ") + (f == Fp8Format::E4M3 ? "e4m3 " : "e5m2 ") + (dyn ? "dynamic" : "static"), kExact,
                [&](Arena& a) {
                  float* y = a.out(x.size());
                  a.be.fake_quant_fp8(a.in(x), 15680, 3, 15680, f, dyn, 0.05f, y, 15680);
                  return a.get(y, x.size());
                });
  }
  {  // the FP8 KV cache's per-head what-if: strided rows (head 3 of 8 in Nano-9B's 8x128 KV rows, 5 tokens)
    const auto kv = uniform(r, 5 * 1024, -4, 4);
    op_case(dev, "amax strided 5 rows of 128 (one KV head)", kExact, [&](Arena& a) {
      return std::vector<float>{a.be.amax(a.in(kv) + 3 * 128, 1024, 5, 128)};
    });
    op_case(dev, "fake_quant_fp8 strided e4m3 static (one KV head in place)", kExact, [&](Arena& a) {
      float* p = a.in(kv);
      a.be.fake_quant_fp8(p + 3 * 128, 1024, 5, 128, Fp8Format::E4M3, false, 0.01f, p + 3 * 128, 1024);
      return a.get(p, kv.size());
    });
    for (const DType t : {DType::BF16, DType::F16})
      op_case(dev, std::string("round_to ") + (t == DType::BF16 ? "bf16" : "f16") + " 5x1024", kExact, [&](Arena& a) {
        float* p = a.in(kv);
        a.be.round_to(p, int64_t(kv.size()), t);
        return a.get(p, kv.size());
      });
  }
  {  // MoE: 7 tokens over 16 experts in 4 groups, top 4 of the best 2 groups; rows 64 wide
    const auto logits = uniform(r, 7 * 16, -3, 3), corr = uniform(r, 16, -0.1f, 0.1f), src = uniform(r, 7 * 64, -1, 1);
    const MoeRouting routing{16, 4, 4, 2, true, 2.5f, corr.data()};
    op_case(dev, "moe_route 7 tokens, 16 experts, 4 groups", kExact, [&](Arena& a) {
      std::vector<int32_t> e(7 * 4);
      std::vector<float> w(7 * 4), got;
      a.be.moe_route(a.in(logits), 7, routing, e.data(), w.data());
      for (int i = 0; i < 7 * 4; i++) got.insert(got.end(), {float(e[i]), w[i]});
      return got;
    });
    const std::vector<int32_t> rows = {5, 0, 3, 6};
    const std::vector<float> wts = {0.5f, -1.25f, 2.0f, 0.125f};
    op_case(dev, "gather_rows 4 of 7 rows x64", kExact, [&](Arena& a) {
      float* d = a.out(4 * 64);
      a.be.gather_rows(a.in(src), 64, rows.data(), 4, d);
      return a.get(d, 4 * 64);
    });
    op_case(dev, "scatter_add_rows 4 into 7 rows x64", kElem, [&](Arena& a) {
      float* d = a.in(src);
      a.be.scatter_add_rows(a.in(std::vector<float>(src.begin(), src.begin() + 4 * 64)), 64, rows.data(), wts.data(), 4, d);
      return a.get(d, src.size());
    });
  }
}

// --- 2. the whole model -----------------------------------------------------------------------
struct Shape {
  const char* name;
  int64_t H, vocab, nh, P, G, N, chunk, nq, nkv, hd, I;
  const char* pattern;  // hybrid_override_pattern: M mamba, * attention, - MLP
};
const Shape kSmall = {"small", 96, 512, 6, 16, 2, 16, 16, 4, 2, 24, 192, "M-M*-MM*-M-"};
const Shape kNano9B = {"Nano-9B", 4480, 131072, 128, 80, 8, 128, 128, 40, 8, 128, 15680,
                       "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-"};

// A random NemotronH: linears in `dt` (FP8 with per-tensor scales, as ModelOpt stores them),
// embeddings and lm_head BF16, norms 1, and Mamba parameters in their trained ranges.
struct RandomModel {
  Shape shape;
  std::vector<std::unique_ptr<HostWeight>> store;
  std::vector<std::vector<float>> vectors;
  const HostWeight* embed = nullptr;

  RandomModel(const Shape& s, DType dt, uint64_t seed) : shape(s) {
    Rng r(seed);
    build(s, dt, r);
  }
  struct Binding { int layer, role; StoredMatrix w; };
  std::vector<Binding> bindings;

  void build(const Shape& s, DType dt, Rng& r) {
    // ~unit-variance outputs for unit-variance inputs; FP8 with a per-tensor scale (ModelOpt's layout)
    auto add_mat = [&](int layer, int role, int64_t rows, int64_t cols, DType t) {
      const bool fp8 = t == DType::F8_E4M3 || t == DType::F8_E5M2;
      const float mag = 0.8f / std::sqrt(float(cols));
      store.push_back(std::make_unique<HostWeight>(
          make_weight(t, rows, cols, fp8 ? ScaleKind::Tensor : ScaleKind::None, 0, r.next(), mag)));
      bindings.push_back({layer, role, store.back()->view});
    };
    auto add_vec = [&](int layer, int role, std::vector<float> v) {
      vectors.push_back(std::move(v));
      StoredMatrix w;
      w.data = reinterpret_cast<const uint8_t*>(vectors.back().data());
      w.dtype = DType::F32;
      w.rows = 1;
      w.cols = int64_t(vectors.back().size());
      bindings.push_back({layer, role, w});
    };
    // The small vectors in their trained ranges: conv taps and biases, A = -exp(A_log) in [-16, -1],
    // dt_bias = softplus⁻¹ of dt in [0.001, 0.1]; norms and D 1.
    auto values = [&](int role, int64_t n) {
      std::vector<float> v(size_t(n), 1.0f);
      if (role == R_CONV_W) v = uniform(r, size_t(n), -0.5f, 0.5f);
      if (role == R_CONV_B) v = uniform(r, size_t(n), -0.1f, 0.1f);
      if (role == R_A_LOG) for (auto& a : v) a = std::log(r.uniform(1, 16));
      if (role == R_DT_BIAS) for (auto& b : v) b = std::log(std::expm1(r.uniform(0.001f, 0.1f)));
      return v;
    };
    for (const WeightSlot& w : weight_slots(config(), s.I)) {
      if (role_is_vector(w.role)) {
        add_vec(w.layer, w.role, values(w.role, w.cols));
      } else if (w.role == R_EMBED) {  // rows are looked up, not multiplied: unit-magnitude BF16 values, no scale
        store.push_back(std::make_unique<HostWeight>(make_weight(DType::BF16, w.rows, w.cols, ScaleKind::None, 0, r.next(), 1)));
        embed = store.back().get();
        bindings.push_back({-1, R_EMBED, embed->view});
      } else {
        add_mat(w.layer, w.role, w.rows, w.cols, w.role == R_LM_HEAD ? DType::BF16 : dt);
      }
    }
  }

  ModelConfig config() const {
    ModelConfig c;
    c.H = shape.H; c.vocab = shape.vocab; c.nh = shape.nh; c.P = shape.P; c.G = shape.G; c.N = shape.N;
    c.K = 4; c.chunk = shape.chunk; c.nq = shape.nq; c.nkv = shape.nkv; c.hd = shape.hd;
    c.kv_dtype = SD_BF16;  // the CUDA backend's default KV cache; the CPU run stores the same BF16 values
    for (int i = 0; shape.pattern[i]; i++)
      c.kinds.push_back(shape.pattern[i] == 'M' ? K_MAMBA : shape.pattern[i] == '*' ? K_ATTENTION : K_MLP);
    return c;
  }
  std::unique_ptr<Model> on(Backend& be) const {
    auto m = std::make_unique<Model>(config(), be);
    for (const Binding& b : bindings) {
      if (role_is_vector(b.role)) m->set_vector(b.layer, b.role, b.w);
      else m->set_matrix(b.layer, b.role, 0, b.w);
    }
    m->check_complete();
    return m;
  }
};

std::vector<int32_t> prompt_ids(int64_t n, int64_t vocab, uint64_t seed) {
  Rng r(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& i : ids) i = int32_t(r.next() % uint64_t(vocab));
  return ids;
}

// Prefill then `steps` greedy decode steps; returns the logits of every step and the tokens.
struct Run { std::vector<std::vector<float>> logits; std::vector<int32_t> tokens; };
Run greedy_run(const Model& m, const std::vector<int32_t>& prompt, int steps, const std::vector<int32_t>* forced) {
  Run out;
  State s = m.new_state(0);
  std::vector<float> logits(size_t(m.cfg.vocab));
  m.forward(s, prompt.data(), int64_t(prompt.size()), true, logits.data(), {});
  for (int i = 0;; i++) {
    out.logits.push_back(logits);
    const int32_t next = forced ? (*forced)[size_t(i)] : int32_t(argmax(logits.data(), m.cfg.vocab));
    out.tokens.push_back(int32_t(argmax(logits.data(), m.cfg.vocab)));
    if (i == steps) break;
    m.forward(s, &next, 1, true, logits.data(), {});
  }
  return out;
}

// The top-2 gap of a logits row, relative to its largest magnitude (how clear the argmax is).
double top2_margin(const std::vector<float>& l) {
  float a = -INFINITY, b = -INFINITY, m = 0;
  for (float v : l) {
    if (v > a) b = a, a = v; else if (v > b) b = v;
    m = std::max(m, std::fabs(v));
  }
  return m > 0 ? double(a - b) / m : 0;
}

void check_model(Backend& dev, const Shape& shape, DType dt, int64_t prompt_len, int steps, bool greedy) {
  const std::string label = std::string(shape.name) + " " + dtype_name(dt);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    RandomModel rm(shape, dt, 7);
    std::printf("  %s: random weights made in %.1f s\n", label.c_str(), seconds_since(t0));
    const std::vector<int32_t> prompt = prompt_ids(prompt_len, shape.vocab, 3);
    Run want, got;
    {
      auto m = rm.on(cpu_backend());
      want = greedy_run(*m, prompt, steps, nullptr);
    }
    {
      auto m = rm.on(dev);
      got = greedy_run(*m, prompt, steps, &want.tokens);  // teacher-forced: same inputs as the CPU run
    }
    double worst = 0;
    for (size_t i = 0; i < want.logits.size(); i++) worst = std::max(worst, norm_err(got.logits[i], want.logits[i]));
    result("model", label + " logits, prefill " + std::to_string(prompt_len) + " + " + std::to_string(steps) + " decode steps",
           fmt("%.2e", worst), "<= 1e-03", worst <= 1e-3 ? "PASS" : "FAIL");
    if (greedy) {
      // Tokens chosen by the device from the same inputs; a differing choice is a failure unless
      // the CPU's own top two were a near tie (then either is right).
      int bad = 0;
      for (size_t i = 0; i < want.tokens.size(); i++)
        if (got.tokens[i] != want.tokens[i] && top2_margin(want.logits[i]) > 1e-4) bad++;
      result("model", label + " greedy tokens equal (" + std::to_string(want.tokens.size()) + ")",
             std::to_string(want.tokens.size() - bad) + " equal", "all", bad == 0 ? "PASS" : "FAIL");
    }
  } catch (const std::exception& ex) {
    result("model", label, std::string("error: ") + ex.what(), "runs", "FAIL");
  }
}

// --- 3. speed ---------------------------------------------------------------------------------
double copy_bandwidth_gbs(Backend& dev) {
  const size_t bytes = g_dry ? (size_t(256) << 20) : (size_t(2) << 30);
  void* a = dev.alloc(bytes);
  void* b = dev.alloc(bytes);
  dev.zero(a, bytes);
  dev.copy(b, a, bytes);
  dev.sync();
  const int reps = g_dry ? 3 : 10;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; i++) dev.copy(i % 2 ? a : b, i % 2 ? b : a, bytes);
  dev.sync();
  const double s = seconds_since(t0);
  dev.free(a);
  dev.free(b);
  return 2.0 * double(bytes) * reps / s / 1e9;  // read + write
}

// Bytes one decode step must read: every linear weight (+ scales), lm_head, one embedding row.
double decode_bytes(const RandomModel& rm) {
  double b = 0;
  for (const auto& w : rm.store)
    if (w.get() != rm.embed) b += double(w->bytes.size()) + double(w->scale.size()) * 4;
  return b + double(rm.shape.H) * 2;
}

// A state that holds `ctx` tokens already (KV cache zero-filled, Mamba state zero): decode
// speed at a context length without paying its prefill.
State state_at(const Model& m, int64_t ctx, int64_t max_tokens) {
  State s = m.new_state(max_tokens);
  for (size_t i = 0; i < s.layers.size(); i++) {
    if (m.cfg.kinds[i] != K_ATTENTION) continue;
    LayerState& l = s.layers[i];
    if (l.kv_tokens < ctx + 64) m.reserve_kv(l, ctx + 64, 0);
    m.be.zero(l.k.data(), size_t(l.k.size()) * sizeof(float));
    m.be.zero(l.v.data(), size_t(l.v.size()) * sizeof(float));
  }
  s.length = ctx;
  return s;
}

// Bytes of a state holding `tokens` positions: conv and SSM state per Mamba layer, K and V per
// attention layer in the KV storage dtype (what new_state allocates).
double state_bytes(const Model& m, int64_t tokens) {
  const ModelConfig& c = m.cfg;
  const int64_t conv_dim = c.nh * c.P + 2 * c.G * c.N;
  double b = 0;
  for (int k : c.kinds) {
    if (k == K_MAMBA) b += double((c.K - 1) * conv_dim + c.nh * c.P * c.N) * 4;
    else if (k == K_ATTENTION) b += 2.0 * double(tokens) * double(m.kv_row_bytes());
  }
  return b;
}

double decode_tok_s(const Model& m, int64_t ctx, int steps) {
  State s = state_at(m, ctx, 0);
  std::vector<float> logits(size_t(m.cfg.vocab));
  int32_t tok = 1;
  m.forward(s, &tok, 1, true, logits.data(), {});  // warm-up: uploads weights, sizes scratch
  const auto t0 = std::chrono::steady_clock::now();
  const SampleArgs greedy;  // sampled on the device: only the id comes back, as in generation
  for (int i = 0; i < steps; i++) tok = m.forward_sample(s, &tok, 1, greedy);
  return steps / seconds_since(t0);
}

void speed(Backend& dev) {
  const double bw = copy_bandwidth_gbs(dev);
  result("speed", std::string(dev.name()) + " copy bandwidth (read + write)", fmt("%.0f GB/s", bw), "measured", "INFO");
  const Shape& shape = g_dry ? kSmall : kNano9B;
  for (DType dt : {DType::F8_E4M3, DType::BF16}) {
    try {
      auto t0 = std::chrono::steady_clock::now();
      RandomModel rm(shape, dt, 11);
      auto m = rm.on(dev);
      std::printf("  %s %s: made and bound in %.1f s\n", shape.name, dtype_name(dt), seconds_since(t0));
      const double bytes = decode_bytes(rm), limit = bw * 1e9 / bytes;
      for (int64_t ctx : {int64_t(1024), int64_t(32768)}) {
        const double tps = decode_tok_s(*m, ctx, g_dry ? 8 : 64);
        const double goal = dt == DType::F8_E4M3 ? 400 : 220;
        result("speed", std::string(shape.name) + " " + dtype_name(dt) + " decode at " + std::to_string(ctx / 1024) + "k context",
               fmt("%.1f tok/s", tps) + fmt(" (%.0f%% of limit)", 100 * tps / limit),
               fmt("limit %.0f tok/s", limit) + (g_dry ? "" : fmt(", goal %.0f", goal)),
               g_dry ? "INFO" : tps >= goal ? "PASS" : "FAIL");
      }
      if (dt == DType::F8_E4M3) {
        const int64_t T = g_dry ? 256 : 4096;
        State s = m->new_state(0);
        std::vector<int32_t> ids = prompt_ids(T, shape.vocab, 5);
        std::vector<float> logits(size_t(shape.vocab));
        { State w = m->new_state(0); m->forward(w, ids.data(), 64, true, logits.data(), {}); }  // warm-up
        t0 = std::chrono::steady_clock::now();
        m->forward(s, ids.data(), T, true, logits.data(), {});
        const double sec = seconds_since(t0);
        result("speed", std::string(shape.name) + " FP8 prefill " + std::to_string(T) + " tokens", fmt("%.3f s", sec),
               g_dry ? "-" : "< 0.5 s", g_dry ? "INFO" : sec < 0.5 ? "PASS" : "FAIL");
        {  // what the weights and a 128k-token state should take (KV in the model's storage dtype)
          const double w_gb = bytes / 1e9, s_gb = state_bytes(*m, 131072) / 1e9;
          result("speed", std::string(shape.name) + " FP8 + 128k context memory estimate",
                 fmt("%.2f GB", w_gb + s_gb) + fmt(" (weights %.2f", w_gb) + fmt(", state %.2f", s_gb) +
                     (m->kv_storage() == DType::BF16 ? ", KV BF16)" : ", KV fp32)"),
                 g_dry ? "-" : "<= 12 GB", "INFO");
        }
#ifdef NL_WITH_CUDA
        if (!g_dry) {  // device memory of weights + a 128k-token state, decoding at its end
          size_t free0 = 0, total = 0;
          cudaMemGetInfo(&free0, &total);
          State big = state_at(*m, 131072 - 64, 131072);
          int32_t tok = 1;
          m->forward(big, &tok, 1, true, logits.data(), {});
          size_t free1 = 0;
          cudaMemGetInfo(&free1, &total);
          // weights and scratch were resident before (free0); add them from the byte count
          const double used_gb = (double(free0) - double(free1)) / 1e9 + bytes / 1e9;
          result("speed", "Nano-9B FP8 + 128k context device memory", fmt("%.2f GB", used_gb), "<= 12 GB",
                 used_gb <= 12 ? "PASS" : "FAIL");
        }
#endif
      }
    } catch (const std::exception& ex) {
      result("speed", std::string(shape.name) + " " + dtype_name(dt), std::string("error: ") + ex.what(), "runs", "FAIL");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string only = "ops,model,speed";
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--dry-run") g_dry = true;
    else if (a.rfind("--only=", 0) == 0) only = a.substr(7);
    else { std::fprintf(stderr, "usage: device-check [--dry-run] [--only=ops,model,speed]\n"); return 2; }
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);
  Backend* dev = nullptr;
  try {
    dev = g_dry ? &reference_backend() : &backend_named("cuda");
  } catch (const std::exception& ex) {
    std::printf("RESULT setup cuda device | %s | a device | FAIL\n", ex.what());
    return 1;
  }
  std::printf("device-check: device backend '%s'%s, %d CPU threads\n", dev->name(), g_dry ? " (dry run)" : "",
              num_threads());
  auto section = [&](const char* name, const std::function<void()>& fn) {
    if (only.find(name) == std::string::npos) return;
    const auto t0 = std::chrono::steady_clock::now();
    std::printf("\n=== %s\n", name);
    fn();
    std::printf("=== %s done in %.1f s (%.1f s in all)\n", name, seconds_since(t0), seconds_since(g_start));
  };
  section("ops", [&] { check_ops(*dev); });
  section("model", [&] {
    check_model(*dev, kSmall, DType::BF16, 13, 16, true);
    check_model(*dev, kSmall, DType::F8_E4M3, 13, 16, true);
    if (!g_dry) check_model(*dev, kNano9B, DType::F8_E4M3, 8, 2, false);
  });
  section("speed", [&] { speed(*dev); });
  std::printf("\ndevice-check: %d failed\n", g_fail);
  return g_fail ? 1 : 0;
}
