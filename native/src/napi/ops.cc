// Bindings of the backend ops, one call per op, each with a `reference` flag choosing the
// plain kernel: the kernel tests (test/kernels.test.ts) compare the two on real shapes.
// Also the sampling helpers (argmax, topK, softmax). Sizes are checked against shapes here.
#include "backend.h"
#include "cpu/kernels.h"
#include "napi/util.h"

namespace nl {

namespace {

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

Backend& pick(const Napi::CallbackInfo& info, size_t i) { return arg_bool(info, i) ? reference_backend() : cpu_backend(); }

}  // namespace

// A weight passed as (bytes, dtype, rows, cols, scale | null, blockRows, blockCols) at argument i.
WeightView arg_weight(const Napi::CallbackInfo& info, size_t i) {
  WeightView w;
  Bytes b = arg_bytes(info, i, "weight");
  w.data = b.data;
  w.dtype = arg_dtype(info, i + 1);
  w.rows = arg_int(info, i + 2, "rows");
  w.cols = arg_int(info, i + 3, "cols");
  NL_CHECK(w.rows > 0 && w.cols > 0, "weight shape must be positive");
  NL_CHECK(int64_t(b.size) >= w.rows * w.cols * int64_t(dtype_size(w.dtype)), "weight bytes shorter than rows*cols elements");
  if (!info[i + 4].IsNull() && !info[i + 4].IsUndefined()) {
    Bytes s = arg_bytes(info, i + 4, "scale");
    w.scale = reinterpret_cast<const float*>(s.data);
    w.block_rows = arg_int(info, i + 5, "blockRows");
    w.block_cols = arg_int(info, i + 6, "blockCols");
    NL_CHECK(w.block_rows > 0 && w.block_cols > 0, "scale block sizes must be positive");
    int64_t need = ((w.rows + w.block_rows - 1) / w.block_rows) * w.scale_cols();
    NL_CHECK(int64_t(s.size / 4) >= need, "scale holds " + std::to_string(s.size / 4) + " values, the blocks need " + std::to_string(need));
  }
  return w;
}

// opLinear(x, T, w..(7), bias|null, y, reference)
NL_EXPORT(opLinear) {
  int64_t T = arg_int(info, 1, "T");
  WeightView w = arg_weight(info, 2);
  const float* x = f32_arg(info, 0, T * w.cols, "x");
  const float* bias = opt_f32(info, 9, w.rows, "bias");
  float* y = f32_arg(info, 10, T * w.rows, "y");
  pick(info, 11).linear(x, T, w, bias, y);
  return info.Env().Undefined();
}

// opEmbedding(table..(7), ids: Int32Array, out, reference)
NL_EXPORT(opEmbedding) {
  WeightView e = arg_weight(info, 0);
  Bytes ids = arg_bytes(info, 7, "ids");
  int64_t T = int64_t(ids.size / 4);
  float* out = f32_arg(info, 8, T * e.cols, "out");
  pick(info, 9).embedding(e, reinterpret_cast<const int32_t*>(ids.data), T, out);
  return info.Env().Undefined();
}

// opRmsnorm(x, T, n, w, eps, y, reference)
NL_EXPORT(opRmsnorm) {
  int64_t T = arg_int(info, 1, "T"), n = arg_int(info, 2, "n");
  pick(info, 6).rmsnorm(f32_arg(info, 0, T * n, "x"), T, n, f32_arg(info, 3, n, "w"), float(arg_number(info, 4, "eps")),
                        f32_arg(info, 5, T * n, "y"));
  return info.Env().Undefined();
}

// opGatedRmsnorm(y, z, ldz, T, n, group, w, eps, out, reference)
NL_EXPORT(opGatedRmsnorm) {
  int64_t ldz = arg_int(info, 2, "ldz"), T = arg_int(info, 3, "T"), n = arg_int(info, 4, "n"), g = arg_int(info, 5, "group");
  NL_CHECK(ldz >= n, "ldz must be >= n");
  pick(info, 9).gated_rmsnorm(f32_arg(info, 0, T * n, "y"), f32_arg(info, 1, (T - 1) * ldz + n, "z"), ldz, T, n, g,
                              f32_arg(info, 6, n, "w"), float(arg_number(info, 7, "eps")), f32_arg(info, 8, T * n, "out"));
  return info.Env().Undefined();
}

// opConv1dSilu(in, T, C, K, w, b|null, state, out, reference)   (in rows contiguous: ld = C)
NL_EXPORT(opConv1dSilu) {
  int64_t T = arg_int(info, 1, "T"), C = arg_int(info, 2, "C"), K = arg_int(info, 3, "K");
  NL_CHECK(K >= 1, "K must be >= 1");
  pick(info, 8).conv1d_silu(f32_arg(info, 0, T * C, "in"), C, T, C, K, f32_arg(info, 4, C * K, "w"),
                            opt_f32(info, 5, C, "b"), f32_arg(info, 6, (K - 1) * C, "state"), f32_arg(info, 7, T * C, "out"));
  return info.Env().Undefined();
}

// opDtSoftplus(raw, T, nh, bias, lo, hi, dt, reference)
NL_EXPORT(opDtSoftplus) {
  int64_t T = arg_int(info, 1, "T"), nh = arg_int(info, 2, "nh");
  pick(info, 7).dt_softplus(f32_arg(info, 0, T * nh, "raw"), nh, T, nh, f32_arg(info, 3, nh, "bias"),
                            float(arg_number(info, 4, "lo")), float(arg_number(info, 5, "hi")), f32_arg(info, 6, T * nh, "dt"));
  return info.Env().Undefined();
}

// opSsm(x, B, C, dt, A, D, dims: [T, nh, P, G, N, chunk], state, y, mode: "scan" | "step" | "reference")
NL_EXPORT(opSsm) {
  Bytes db = arg_bytes(info, 6, "dims");
  NL_CHECK(db.size >= 6 * 8, "dims must be a Float64Array of [T, nh, P, G, N, chunk]");
  const double* d = reinterpret_cast<const double*>(db.data);
  int64_t T = int64_t(d[0]), nh = int64_t(d[1]), P = int64_t(d[2]), G = int64_t(d[3]), N = int64_t(d[4]), chunk = int64_t(d[5]);
  NL_CHECK(T > 0 && nh > 0 && P > 0 && G > 0 && N > 0 && nh % G == 0, "ssm: bad dims");
  SsdArgs a{f32_arg(info, 0, T * nh * P, "x"), f32_arg(info, 1, T * G * N, "B"), f32_arg(info, 2, T * G * N, "C"), nh * P, G * N,
            f32_arg(info, 3, T * nh, "dt"), f32_arg(info, 4, nh, "A"), f32_arg(info, 5, nh, "D"), T, nh, P, G, N, chunk,
            f32_arg(info, 7, nh * P * N, "state"), f32_arg(info, 8, T * nh * P, "y")};
  std::string mode = info[9].As<Napi::String>().Utf8Value();
  if (mode == "scan") cpu_backend().ssd_scan(a);
  else if (mode == "step") cpu_backend().ssm_step(a);
  else reference_backend().ssd_scan(a);
  return info.Env().Undefined();
}

// opAttention(q, k, v, dims: [T, past, nq, nkv, hd], scale, out, reference)
NL_EXPORT(opAttention) {
  Bytes db = arg_bytes(info, 3, "dims");
  NL_CHECK(db.size >= 5 * 8, "dims must be a Float64Array of [T, past, nq, nkv, hd]");
  const double* d = reinterpret_cast<const double*>(db.data);
  int64_t T = int64_t(d[0]), past = int64_t(d[1]), nq = int64_t(d[2]), nkv = int64_t(d[3]), hd = int64_t(d[4]);
  NL_CHECK(T > 0 && past >= 0 && nq > 0 && nkv > 0 && hd > 0 && nq % nkv == 0, "attention: bad dims");
  AttnArgs a{f32_arg(info, 0, T * nq * hd, "q"), f32_arg(info, 1, (past + T) * nkv * hd, "k"),
             f32_arg(info, 2, (past + T) * nkv * hd, "v"), T, past, nq, nkv, hd, float(arg_number(info, 4, "scale")),
             f32_arg(info, 5, T * nq * hd, "out")};
  pick(info, 6).attention(a);
  return info.Env().Undefined();
}

// opRelu2(x, reference)
NL_EXPORT(opRelu2) {
  Bytes b = arg_bytes(info, 0, "x");
  pick(info, 1).relu2(reinterpret_cast<float*>(b.data), int64_t(b.size / 4));
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
