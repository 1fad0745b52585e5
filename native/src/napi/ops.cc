// Bindings of the backend ops, one call per op, each with a last argument choosing the
// backend (false: cpu, true: reference, or a name such as "cuda"): the kernel tests
// (test/kernels.test.ts) compare every backend with the reference on real shapes.
// Also the sampling helpers (argmax, topK, softmax). Sizes are checked against shapes here.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend.h"
#include "cpu/kernels.h"
#include "napi/tensor_arg.h"

namespace nl {

namespace {

// The last argument of each op: false = "cpu", true = "reference", or a backend name.
Backend& pick(const Napi::CallbackInfo& info, size_t i) {
  if (info[i].IsString()) return backend_named(info[i].As<Napi::String>().Utf8Value());
  return arg_bool(info, i) ? reference_backend() : cpu_backend();
}

// A device backend cannot read JS memory: Stage copies each argument into the backend's
// memory (and the outputs back, in finish()). For host backends it hands pointers through.
class Stage {
 public:
  explicit Stage(Backend& be) : be_(be) {}
  Stage(const Stage&) = delete;
  ~Stage() {
    for (auto& it : items_) be_.free(it.dev);
  }
  template <class T>
  T* operator()(T* host, int64_t count, bool out) {
    if (!host || be_.is_host()) return host;
    const size_t bytes = size_t(std::max<int64_t>(count, 1)) * sizeof(T);
    void* dev = be_.alloc(bytes);
    items_.push_back({const_cast<void*>(static_cast<const void*>(host)), dev, bytes, out});
    be_.copy(dev, host, bytes);
    return static_cast<T*>(dev);
  }
  StoredMatrix weight(StoredMatrix w) {
    w.data = (*this)(w.data, w.bytes(), false);
    if (w.scale) w.scale = (*this)(w.scale, w.scale_count(), false);
    return w;
  }
  void finish() {
    be_.sync();
    for (auto& it : items_)
      if (it.out) be_.copy(it.host, it.dev, it.bytes);
  }

 private:
  struct Item { void* host; void* dev; size_t bytes; bool out; };
  Backend& be_;
  std::vector<Item> items_;
};

float* f32_arg(const Napi::CallbackInfo& info, size_t i, int64_t need, const char* what) {
  Bytes b = arg_bytes(info, i, what);
  NL_CHECK(int64_t(b.size / 4) >= need, std::string(what) + " holds " + std::to_string(b.size / 4) +
                                            " floats, the shape needs " + std::to_string(need));
  return reinterpret_cast<float*>(b.data);
}

const float* opt_f32(const Napi::CallbackInfo& info, size_t i, int64_t need, const char* what) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return f32_arg(info, i, need, what);
}

}  // namespace

// opLinear(x, T, w..(7), bias|null, y, backend)
NL_EXPORT(opLinear) {
  int64_t T = arg_int(info, 1, "T");
  StoredMatrix w = arg_weight(info, 2, "opLinear");
  Backend& be = pick(info, 11);
  Stage st(be);
  const float* x = st(f32_arg(info, 0, T * w.cols, "x"), T * w.cols, false);
  const float* bias = st(opt_f32(info, 9, w.rows, "bias"), w.rows, false);
  float* y = st(f32_arg(info, 10, T * w.rows, "y"), T * w.rows, true);
  be.linear(x, T, st.weight(w), bias, y);
  st.finish();
  return info.Env().Undefined();
}

// opEmbedding(table..(7), ids: Int32Array, out, backend)
NL_EXPORT(opEmbedding) {
  StoredMatrix e = arg_weight(info, 0, "opEmbedding");
  Bytes ids = arg_bytes(info, 7, "ids");
  int64_t T = int64_t(ids.size / 4);
  Backend& be = pick(info, 9);
  Stage st(be);
  float* out = st(f32_arg(info, 8, T * e.cols, "out"), T * e.cols, true);
  be.embedding(st.weight(e), st(reinterpret_cast<const int32_t*>(ids.data), T, false), T, out);
  st.finish();
  return info.Env().Undefined();
}

// opRmsnorm(x, T, n, w, eps, y, backend)
NL_EXPORT(opRmsnorm) {
  int64_t T = arg_int(info, 1, "T"), n = arg_int(info, 2, "n");
  Backend& be = pick(info, 6);
  Stage st(be);
  be.rmsnorm(st(f32_arg(info, 0, T * n, "x"), T * n, false), T, n, st(f32_arg(info, 3, n, "w"), n, false),
             float(arg_number(info, 4, "eps")), st(f32_arg(info, 5, T * n, "y"), T * n, true));
  st.finish();
  return info.Env().Undefined();
}

// opAddRmsnorm(h, y, T, n, w, eps, x, backend): h += y, x = rmsnorm(h) * w
NL_EXPORT(opAddRmsnorm) {
  int64_t T = arg_int(info, 2, "T"), n = arg_int(info, 3, "n");
  Backend& be = pick(info, 7);
  Stage st(be);
  be.add_rmsnorm(st(f32_arg(info, 0, T * n, "h"), T * n, true), st(f32_arg(info, 1, T * n, "y"), T * n, false), T, n,
                 st(f32_arg(info, 4, n, "w"), n, false), float(arg_number(info, 5, "eps")), st(f32_arg(info, 6, T * n, "x"), T * n, true));
  st.finish();
  return info.Env().Undefined();
}

// opGatedRmsnorm(y, z, ldz, T, n, group, w, eps, out, backend)
NL_EXPORT(opGatedRmsnorm) {
  int64_t ldz = arg_int(info, 2, "ldz"), T = arg_int(info, 3, "T"), n = arg_int(info, 4, "n"), g = arg_int(info, 5, "group");
  NL_CHECK(ldz >= n, "ldz must be >= n");
  Backend& be = pick(info, 9);
  Stage st(be);
  const int64_t zn = (T - 1) * ldz + n;
  be.gated_rmsnorm(st(f32_arg(info, 0, T * n, "y"), T * n, false), st(f32_arg(info, 1, zn, "z"), zn, false), ldz, T, n, g,
                   st(f32_arg(info, 6, n, "w"), n, false), float(arg_number(info, 7, "eps")),
                   st(f32_arg(info, 8, T * n, "out"), T * n, true));
  st.finish();
  return info.Env().Undefined();
}

// opConv1dSilu(in, T, C, K, w, b|null, state, out, backend)   (in rows contiguous: ld = C)
NL_EXPORT(opConv1dSilu) {
  int64_t T = arg_int(info, 1, "T"), C = arg_int(info, 2, "C"), K = arg_int(info, 3, "K");
  NL_CHECK(K >= 1, "K must be >= 1");
  Backend& be = pick(info, 8);
  Stage st(be);
  be.conv1d_silu(st(f32_arg(info, 0, T * C, "in"), T * C, false), C, T, C, K, st(f32_arg(info, 4, C * K, "w"), C * K, false),
                 st(opt_f32(info, 5, C, "b"), C, false), st(f32_arg(info, 6, (K - 1) * C, "state"), (K - 1) * C, true),
                 st(f32_arg(info, 7, T * C, "out"), T * C, true));
  st.finish();
  return info.Env().Undefined();
}

// opDtSoftplus(raw, T, nh, bias, lo, hi, dt, backend)
NL_EXPORT(opDtSoftplus) {
  int64_t T = arg_int(info, 1, "T"), nh = arg_int(info, 2, "nh");
  Backend& be = pick(info, 7);
  Stage st(be);
  be.dt_softplus(st(f32_arg(info, 0, T * nh, "raw"), T * nh, false), nh, T, nh, st(f32_arg(info, 3, nh, "bias"), nh, false),
                 float(arg_number(info, 4, "lo")), float(arg_number(info, 5, "hi")), st(f32_arg(info, 6, T * nh, "dt"), T * nh, true));
  st.finish();
  return info.Env().Undefined();
}

// A Float64Array argument of n integer sizes, named by `layout` in the error.
static std::vector<int64_t> arg_dims(const Napi::CallbackInfo& info, size_t i, size_t n, const char* layout) {
  Bytes db = arg_bytes(info, i, "dims");
  NL_CHECK(db.size >= n * 8, std::string("dims must be a Float64Array of ") + layout);
  const double* d = reinterpret_cast<const double*>(db.data);
  return std::vector<int64_t>(d, d + n);
}

// opSsm(x, B, C, dt, A, D, dims: [T, nh, P, G, N, chunk], state, y, mode: "scan" | "step" | "reference", backend?)
// mode "reference" runs the reference backend's recurrence; otherwise backend (default "cpu") runs mode.
NL_EXPORT(opSsm) {
  auto d = arg_dims(info, 6, 6, "[T, nh, P, G, N, chunk]");
  int64_t T = d[0], nh = d[1], P = d[2], G = d[3], N = d[4], chunk = d[5];
  NL_CHECK(T > 0 && nh > 0 && P > 0 && G > 0 && N > 0 && nh % G == 0, "ssm: bad dims");
  std::string mode = info[9].As<Napi::String>().Utf8Value();
  Backend& be = mode == "reference" ? reference_backend() : info[10].IsString() ? pick(info, 10) : cpu_backend();
  Stage st(be);
  const int64_t nx = T * nh * P, nbc = T * G * N;
  SsdArgs a{st(f32_arg(info, 0, nx, "x"), nx, false), st(f32_arg(info, 1, nbc, "B"), nbc, false),
            st(f32_arg(info, 2, nbc, "C"), nbc, false), nh * P, G * N, st(f32_arg(info, 3, T * nh, "dt"), T * nh, false),
            st(f32_arg(info, 4, nh, "A"), nh, false), st(f32_arg(info, 5, nh, "D"), nh, false), T, nh, P, G, N, chunk,
            st(f32_arg(info, 7, nh * P * N, "state"), nh * P * N, true), st(f32_arg(info, 8, nx, "y"), nx, true)};
  if (mode == "step") be.ssm_step(a);
  else be.ssd_scan(a);
  st.finish();
  return info.Env().Undefined();
}

// opAttention(q, k, v, dims: [T, past, nq, nkv, hd], scale, out, backend, kvDtype?): k and v are
// Float32Arrays, or Uint16Arrays of BF16 bits when kvDtype is the BF16 code.
NL_EXPORT(opAttention) {
  auto d = arg_dims(info, 3, 5, "[T, past, nq, nkv, hd]");
  int64_t T = d[0], past = d[1], nq = d[2], nkv = d[3], hd = d[4];
  NL_CHECK(T > 0 && past >= 0 && nq > 0 && nkv > 0 && hd > 0 && nq % nkv == 0, "attention: bad dims");
  Backend& be = pick(info, 6);
  const DType kv = info.Length() > 7 && info[7].IsNumber() ? DType(arg_int(info, 7, "kvDtype")) : DType::F32;
  NL_CHECK(kv == DType::F32 || kv == DType::BF16, "attention: kvDtype must be the F32 or BF16 code");
  Stage st(be);
  const int64_t nq_ = T * nq * hd, nk = (past + T) * nkv * hd;
  auto cache = [&](size_t i, const char* what) -> const void* {
    if (kv == DType::F32) return st(f32_arg(info, i, nk, what), nk, false);
    Bytes b = arg_bytes(info, i, what);
    NL_CHECK(int64_t(b.size / 2) >= nk, std::string(what) + " holds " + std::to_string(b.size / 2) +
                                             " BF16 values, the shape needs " + std::to_string(nk));
    return st(reinterpret_cast<const uint16_t*>(b.data), nk, false);
  };
  AttnArgs a{st(f32_arg(info, 0, nq_, "q"), nq_, false), cache(1, "k"), cache(2, "v"), T, past, nq, nkv, hd,
             float(arg_number(info, 4, "scale")), st(f32_arg(info, 5, nq_, "out"), nq_, true), kv};
  be.attention(a);
  st.finish();
  return info.Env().Undefined();
}

// opToStorage(x: Float32Array, dtype (F32 or BF16 code), dst: Float32Array | Uint16Array, backend)
NL_EXPORT(opToStorage) {
  Bytes xb = arg_bytes(info, 0, "x");
  const int64_t n = int64_t(xb.size / 4);
  const DType t = DType(arg_int(info, 1, "dtype"));
  NL_CHECK(t == DType::F32 || t == DType::BF16, "to_storage: storage must be F32 or BF16");
  Bytes db = arg_bytes(info, 2, "dst");
  const int64_t width = t == DType::BF16 ? 2 : 4;
  NL_CHECK(int64_t(db.size) >= n * width, "to_storage: dst holds " + std::to_string(db.size) + " bytes, " +
                                              std::to_string(n) + " values need " + std::to_string(n * width));
  Backend& be = pick(info, 3);
  Stage st(be);
  be.to_storage(st(reinterpret_cast<const float*>(xb.data), n, false), n, t, st(reinterpret_cast<uint8_t*>(db.data), n * width, true));
  st.finish();
  return info.Env().Undefined();
}

// The SampleArgs of settings [temperature, topK, topP, minP, repetitionPenalty, u] and the
// context ids (Int32Array or null) at argument i and i + 1.
SampleArgs sample_args(const Napi::CallbackInfo& info, size_t i) {
  Bytes sb = arg_bytes(info, i, "settings");
  NL_CHECK(sb.size >= 6 * 8, "sampling settings must be a Float64Array of [temperature, topK, topP, minP, repetitionPenalty, u]");
  const double* s = reinterpret_cast<const double*>(sb.data);
  SampleArgs a;
  a.temperature = s[0]; a.top_k = int64_t(s[1]); a.top_p = s[2]; a.min_p = s[3]; a.repetition_penalty = s[4]; a.u = s[5];
  if (!info[i + 1].IsNull() && !info[i + 1].IsUndefined()) {
    Bytes c = arg_bytes(info, i + 1, "context");
    a.context = reinterpret_cast<const int32_t*>(c.data);
    a.n_context = int64_t(c.size / 4);
  }
  return a;
}

// opSample(logits, settings: Float64Array(6), context: Int32Array | null, backend) -> the token id
NL_EXPORT(opSample) {
  Bytes b = arg_bytes(info, 0, "logits");
  const int64_t n = int64_t(b.size / 4);
  const SampleArgs a = sample_args(info, 1);
  Backend& be = pick(info, 3);
  Stage st(be);
  const int32_t id = be.sample(st(reinterpret_cast<const float*>(b.data), n, false), n, a);
  return Napi::Number::New(info.Env(), double(id));
}

// opRelu2(x, backend)
NL_EXPORT(opRelu2) {
  Bytes b = arg_bytes(info, 0, "x");
  Backend& be = pick(info, 1);
  Stage st(be);
  const int64_t n = int64_t(b.size / 4);
  be.relu2(st(reinterpret_cast<float*>(b.data), n, true), n);
  st.finish();
  return info.Env().Undefined();
}

// opAdd(h, y, backend): h += y
NL_EXPORT(opAdd) {
  Bytes hb = arg_bytes(info, 0, "h");
  const int64_t n = int64_t(hb.size / 4);
  Backend& be = pick(info, 2);
  Stage st(be);
  be.add(st(reinterpret_cast<float*>(hb.data), n, true), st(f32_arg(info, 1, n, "y"), n, false), n);
  st.finish();
  return info.Env().Undefined();
}

// opAmax(x, backend) -> max |x| over the finite values
NL_EXPORT(opAmax) {
  Bytes b = arg_bytes(info, 0, "x");
  const int64_t n = int64_t(b.size / 4);
  Backend& be = pick(info, 1);
  Stage st(be);
  const float a = be.amax(st(reinterpret_cast<float*>(b.data), n, false), n, 1, n);
  return Napi::Number::New(info.Env(), double(a));
}

// opFakeQuantFp8(x, T, n, format (0 e4m3, 1 e5m2), dynamic, scale, y, backend)
NL_EXPORT(opFakeQuantFp8) {
  const int64_t T = arg_int(info, 1, "T"), n = arg_int(info, 2, "n");
  const int64_t fmt = arg_int(info, 3, "format");
  NL_CHECK(fmt == 0 || fmt == 1, "opFakeQuantFp8: format must be 0 (e4m3) or 1 (e5m2), got " + std::to_string(fmt));
  const bool dynamic = arg_bool(info, 4);
  const float scale = float(arg_number(info, 5, "scale"));
  NL_CHECK(dynamic || (scale > 0 && std::isfinite(scale)), "opFakeQuantFp8: a static scale must be positive and finite");
  Backend& be = pick(info, 7);
  Stage st(be);
  be.fake_quant_fp8(st(f32_arg(info, 0, T * n, "x"), T * n, false), n, T, n, Fp8Format(fmt), dynamic, scale,
                    st(f32_arg(info, 6, T * n, "y"), T * n, true), n);
  st.finish();
  return info.Env().Undefined();
}

// opRoundTo(x, storage dtype code (BF16 or F16), backend): x = fp32(storage(x))
NL_EXPORT(opRoundTo) {
  Bytes b = arg_bytes(info, 0, "x");
  const int64_t n = int64_t(b.size / 4);
  const DType storage = arg_dtype(info, 1);
  NL_CHECK(storage == DType::BF16 || storage == DType::F16, "opRoundTo: storage must be BF16 or F16");
  Backend& be = pick(info, 2);
  Stage st(be);
  be.round_to(st(reinterpret_cast<float*>(b.data), n, true), n, storage);
  st.finish();
  return info.Env().Undefined();
}

// opMoeRoute(logits, T, [E, k, n_group, topk_group, norm_topk, scale], correction|null, experts: Int32Array, weights, backend)
NL_EXPORT(opMoeRoute) {
  const int64_t T = arg_int(info, 1, "T");
  Bytes d = arg_bytes(info, 2, "settings");
  NL_CHECK(d.size >= 6 * sizeof(double), "opMoeRoute: settings must be a Float64Array [E, k, n_group, topk_group, norm_topk, scale]");
  const double* v = reinterpret_cast<const double*>(d.data);
  MoeRouting r{int64_t(v[0]), int64_t(v[1]), int64_t(v[2]), int64_t(v[3]), v[4] != 0, float(v[5]), nullptr};
  r.correction = opt_f32(info, 3, r.E, "correction");
  Backend& be = pick(info, 6);
  Stage st(be);
  be.moe_route(st(f32_arg(info, 0, T * r.E, "logits"), T * r.E, false), T, r,
               reinterpret_cast<int32_t*>(f32_arg(info, 4, T * r.k, "experts")), f32_arg(info, 5, T * r.k, "weights"));
  return info.Env().Undefined();
}

namespace {
// A row index list (Int32Array) for an op on a matrix of `limit` rows: in range, and when
// `distinct` (scatter targets) each row once.
std::pair<const int32_t*, int64_t> row_list(const Napi::CallbackInfo& info, size_t i, int64_t limit, bool distinct,
                                            const char* op) {
  Bytes rb = arg_bytes(info, i, "rows");
  const int64_t n = int64_t(rb.size / 4);
  const int32_t* rows = reinterpret_cast<const int32_t*>(rb.data);
  std::vector<bool> seen(size_t(std::max<int64_t>(limit, 0)), false);
  for (int64_t j = 0; j < n; j++) {
    NL_CHECK(rows[j] >= 0 && rows[j] < limit, std::string(op) + ": rows[" + std::to_string(j) + "] = " + std::to_string(rows[j]) +
                                                  " outside [0, " + std::to_string(limit) + ")");
    NL_CHECK(!distinct || !seen[rows[j]], std::string(op) + ": row " + std::to_string(rows[j]) + " appears twice (rows must be distinct)");
    seen[rows[j]] = true;
  }
  return {rows, n};
}
}  // namespace

// opGatherRows(src, cols, rows: Int32Array, dst, backend)
NL_EXPORT(opGatherRows) {
  Bytes sb = arg_bytes(info, 0, "src");
  const int64_t cols = arg_int(info, 1, "cols"), nsrc = int64_t(sb.size / 4) / std::max<int64_t>(cols, 1);
  const auto [rows, n] = row_list(info, 2, nsrc, false, "opGatherRows");
  Backend& be = pick(info, 4);
  Stage st(be);
  be.gather_rows(st(reinterpret_cast<float*>(sb.data), nsrc * cols, false), cols, rows, n,
                 st(f32_arg(info, 3, n * cols, "dst"), n * cols, true));
  st.finish();
  return info.Env().Undefined();
}

// opScatterAddRows(src, cols, rows: Int32Array, weights, dst, backend)
NL_EXPORT(opScatterAddRows) {
  const int64_t cols = arg_int(info, 1, "cols");
  Bytes db = arg_bytes(info, 4, "dst");
  const int64_t ndst = int64_t(db.size / 4) / std::max<int64_t>(cols, 1);
  const auto [rows, n] = row_list(info, 2, ndst, true, "opScatterAddRows");
  Backend& be = pick(info, 5);
  Stage st(be);
  be.scatter_add_rows(st(f32_arg(info, 0, n * cols, "src"), n * cols, false), cols, rows, f32_arg(info, 3, n, "weights"), n,
                      st(reinterpret_cast<float*>(db.data), ndst * cols, true));
  st.finish();
  return info.Env().Undefined();
}

// argmax(x: Float32Array) -> index
NL_EXPORT(argmax) {
  Bytes b = arg_bytes(info, 0, "x");
  return Napi::Number::New(info.Env(), double(argmax(reinterpret_cast<const float*>(b.data), int64_t(b.size / 4))));
}

// topK(x, k, values: Float32Array, indices: Int32Array)
NL_EXPORT(topK) {
  Bytes b = arg_bytes(info, 0, "x");
  int64_t k = arg_int(info, 1, "k");
  top_k(reinterpret_cast<const float*>(b.data), int64_t(b.size / 4), k, f32_arg(info, 2, k, "values"),
        reinterpret_cast<int32_t*>(f32_arg(info, 3, k, "indices")));
  return info.Env().Undefined();
}

// softmax(x, temperature) in place -> log normaliser
NL_EXPORT(softmax) {
  Bytes b = arg_bytes(info, 0, "x");
  return Napi::Number::New(info.Env(), softmax_inplace(reinterpret_cast<float*>(b.data), int64_t(b.size / 4),
                                                       float(arg_number(info, 1, "temperature"))));
}

}  // namespace nl
