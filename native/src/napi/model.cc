// Bindings of the native NemotronH model object (model/nemotron_h.h): built once from the
// TypeScript plan, weights bound (and re-bound on swap) by (layer, role, expert), and a
// forward that runs the whole layer loop in C++ on the backend chosen at creation. The
// bound JS buffers (mapped file views, in-memory FP8 copies, scales) are held by
// references so they live as long as the model.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <tuple>

#include "model/decode_traffic.h"
#include "model/nemotron_h.h"
#include "napi/tensor_arg.h"

namespace nl {

namespace {

struct ModelHandle {
  std::unique_ptr<Model> model;
  std::map<std::tuple<int, int, int>, std::pair<Napi::Reference<Napi::Value>, Napi::Reference<Napi::Value>>> keep;
};

ModelHandle& model_arg(const Napi::CallbackInfo& info, size_t i) {
  NL_CHECK(info[i].IsExternal(), "expected a native model handle");
  return *info[i].As<Napi::External<ModelHandle>>().Data();
}

State& state_arg(const Napi::CallbackInfo& info, size_t i) {
  NL_CHECK(info[i].IsExternal(), "expected a native state handle");
  return *info[i].As<Napi::External<State>>().Data();
}

Napi::Value wrap_state(Napi::Env env, State s) {
  return Napi::External<State>::New(env, new State(std::move(s)), [](Napi::Env, State* p) { delete p; });
}

int64_t get_int(Napi::Object o, const char* k, int64_t fallback) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? int64_t(v.As<Napi::Number>().DoubleValue()) : fallback;
}
double get_num(Napi::Object o, const char* k, double fallback) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

}  // namespace

// The ModelConfig of {H, vocab, nh, P, G, N, K, chunk, nq, nkv, hd, eps, dtLo, dtHi, dtClampMin, E, topk,
// nGroup, topkGroup, normTopk, routedScale, kinds: number[], ssmDtype, kvDtype} (src/backend/native.ts).
static ModelConfig config_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  NL_CHECK(info[i].IsObject(), std::string(fn) + ": expected a config object");
  Napi::Object o = info[i].As<Napi::Object>();
  ModelConfig c;
  c.H = get_int(o, "H", 0); c.vocab = get_int(o, "vocab", 0);
  c.nh = get_int(o, "nh", 0); c.P = get_int(o, "P", 0); c.G = get_int(o, "G", 1); c.N = get_int(o, "N", 0);
  c.K = get_int(o, "K", 4); c.chunk = get_int(o, "chunk", 128);
  c.nq = get_int(o, "nq", 0); c.nkv = get_int(o, "nkv", 1); c.hd = get_int(o, "hd", 0);
  c.eps = float(get_num(o, "eps", 1e-5));
  c.dt_lo = float(get_num(o, "dtLo", 0)); c.dt_hi = float(get_num(o, "dtHi", INFINITY));
  c.dt_clamp_min = float(get_num(o, "dtClampMin", 0));
  c.E = get_int(o, "E", 0); c.topk = get_int(o, "topk", 0); c.n_group = get_int(o, "nGroup", 1);
  c.topk_group = get_int(o, "topkGroup", 1);
  c.norm_topk = o.Get("normTopk").ToBoolean().Value();
  c.routed_scale = float(get_num(o, "routedScale", 1.0));
  c.ssm_dtype = int(get_int(o, "ssmDtype", SD_F32));
  c.kv_dtype = int(get_int(o, "kvDtype", SD_F32));
  Napi::Array kinds = o.Get("kinds").As<Napi::Array>();
  for (uint32_t k = 0; k < kinds.Length(); k++) c.kinds.push_back(int(kinds.Get(k).As<Napi::Number>().Int32Value()));
  return c;
}

// modelCreate(config, backend: "cpu" | "reference" | "cuda")
NL_EXPORT(modelCreate) {
  ModelConfig c = config_arg(info, 0, "modelCreate");
  Backend& be = backend_named(info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string("cpu"));
  auto* h = new ModelHandle{std::make_unique<Model>(std::move(c), be), {}};
  return Napi::External<ModelHandle>::New(info.Env(), h, [](Napi::Env, ModelHandle* p) { delete p; });
}

// modelBind(model, layer, role, expert, bytes, dtype, rows, cols, scale|null, blockRows, blockCols)
NL_EXPORT(modelBind) {
  ModelHandle& m = model_arg(info, 0);
  int layer = int(arg_int(info, 1, "layer")), role = int(arg_int(info, 2, "role")), expert = int(arg_int(info, 3, "expert"));
  StoredMatrix w = arg_weight(info, 4, "modelBind");
  if (role_is_vector(role)) {
    m.model->set_vector(layer, role, w);
    return info.Env().Undefined();
  }
  m.model->set_matrix(layer, role, expert, w);
  auto key = std::make_tuple(layer, role, expert);
  Napi::Reference<Napi::Value> scale_ref;
  if (!info[8].IsNull() && !info[8].IsUndefined()) scale_ref = Napi::Persistent(info[8]);
  m.keep[key] = std::make_pair(Napi::Persistent(info[4]), std::move(scale_ref));
  return info.Env().Undefined();
}

// modelSetInputQuant(model, layer, role, mode 0 off | 1 static | 2 dynamic, format 0 e4m3 | 1 e5m2, scale)
NL_EXPORT(modelSetInputQuant) {
  InputQuant& q = model_arg(info, 0).model->input_quant(int(arg_int(info, 1, "layer")), int(arg_int(info, 2, "role")));
  int64_t mode = arg_int(info, 3, "mode"), format = arg_int(info, 4, "format");
  float scale = float(arg_number(info, 5, "scale"));
  NL_CHECK(mode >= 0 && mode <= 2, "input quantization mode must be 0 (off), 1 (static) or 2 (dynamic)");
  NL_CHECK(format == 0 || format == 1, "input quantization format must be 0 (e4m3) or 1 (e5m2)");
  NL_CHECK(mode != 1 || (scale > 0 && std::isfinite(scale)), "a static input scale must be positive and finite");
  q.mode = int(mode);
  q.format = Fp8Format(format);
  q.scale = mode == 1 ? scale : 1.0f;
  return info.Env().Undefined();
}

// modelObserveInput(model, layer, role, on) -> the max |input| seen since observing began (when turning off)
NL_EXPORT(modelObserveInput) {
  InputQuant& q = model_arg(info, 0).model->input_quant(int(arg_int(info, 1, "layer")), int(arg_int(info, 2, "role")));
  bool on = arg_bool(info, 3);
  double seen = q.amax;
  q.observe = on;
  q.amax = 0.0f;
  return Napi::Number::New(info.Env(), on ? 0.0 : seen);
}

NL_EXPORT(modelCheck) {
  model_arg(info, 0).model->check_complete();
  return info.Env().Undefined();
}

// stateCreate(model, maxTokens) ; stateClone(state) ; stateReset(model, state) ; stateLength(state)
NL_EXPORT(stateCreate) {
  return wrap_state(info.Env(), model_arg(info, 0).model->new_state(arg_int(info, 1, "maxTokens")));
}
NL_EXPORT(stateClone) { return wrap_state(info.Env(), state_arg(info, 0)); }
NL_EXPORT(stateReset) {
  model_arg(info, 0).model->reset(state_arg(info, 1));
  return info.Env().Undefined();
}
NL_EXPORT(stateLength) { return Napi::Number::New(info.Env(), double(state_arg(info, 0).length)); }

// A patch hook: calls the JS function with a Float32Array copy of the activation; it may edit
// that array in place (returning undefined) or return a replacement of the same length.
// A JS exception propagates out of the forward (the hooks go with the call).
std::function<void(float*, int64_t)> js_patch(Napi::Env env, Napi::Function fn) {
  return [env, fn](float* data, int64_t n) {
    Napi::HandleScope scope(env);
    Napi::Float32Array arr = Napi::Float32Array::New(env, size_t(n));
    std::copy(data, data + n, arr.Data());
    Napi::Value r = fn.Call({arr});
    if (r.IsUndefined() || r.IsNull()) {
      std::copy(arr.Data(), arr.Data() + n, data);
      return;
    }
    NL_CHECK(r.IsTypedArray() && r.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
             "a patch hook must return a Float32Array or undefined");
    Napi::Float32Array out = r.As<Napi::Float32Array>();
    NL_CHECK(int64_t(out.ElementLength()) == n, "a patch hook returned " + std::to_string(out.ElementLength()) +
                                                    " values for an activation of " + std::to_string(n));
    std::copy(out.Data(), out.Data() + n, data);
  };
}

// modelForward(model, state, ids: Int32Array, lastOnly, out: Float32Array,
//              hooks: [layer, point, record: Float32Array | null, patch?: (a: Float32Array) => Float32Array | void][])
// (on the model's backend; only the named hook points cost anything)
NL_EXPORT(modelForward) {
  ModelHandle& m = model_arg(info, 0);
  State& s = state_arg(info, 1);
  Bytes ids = arg_bytes(info, 2, "ids");
  const int64_t T = int64_t(ids.size / 4);
  const bool last_only = arg_bool(info, 3);
  Bytes out = arg_bytes(info, 4, "out");
  const Model& model = *m.model;
  NL_CHECK(int64_t(out.size / 4) >= (last_only ? 1 : T) * model.cfg.vocab, "modelForward: logits buffer too small");
  std::vector<Hook> hooks;
  if (info[5].IsArray()) {
    Napi::Array a = info[5].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Array c = a.Get(i).As<Napi::Array>();
      Hook h;
      h.layer = c.Get(0u).As<Napi::Number>().Int32Value();
      h.point = c.Get(1u).As<Napi::Number>().Int32Value();
      Napi::Value rec = c.Get(2u);
      if (rec.IsTypedArray()) {
        auto ta = rec.As<Napi::TypedArray>();
        NL_CHECK(ta.TypedArrayType() == napi_float32_array, "modelForward: a hook's record buffer must be a Float32Array");
        h.record = reinterpret_cast<float*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
        h.record_floats = int64_t(ta.ByteLength() / 4);
      }
      if (c.Length() > 3 && c.Get(3u).IsFunction()) h.patch = js_patch(info.Env(), c.Get(3u).As<Napi::Function>());
      hooks.push_back(std::move(h));
    }
  }
  model.check_complete();
  HookSet set(std::move(hooks), int64_t(model.layers.size()));
  model.forward(s, reinterpret_cast<const int32_t*>(ids.data), T, last_only, reinterpret_cast<float*>(out.data), set);
  return info.Env().Undefined();
}

// modelForwardSample(model, state, ids: Int32Array, settings: Float64Array(6), context: Int32Array | null)
// -> the next token, sampled by the model's backend from the last logits row (napi/ops.cc's sample_args)
NL_EXPORT(modelForwardSample) {
  ModelHandle& m = model_arg(info, 0);
  State& s = state_arg(info, 1);
  Bytes ids = arg_bytes(info, 2, "ids");
  const SampleArgs a = sample_args(info, 3);
  const Model& model = *m.model;
  model.check_complete();
  const int32_t id = model.forward_sample(s, reinterpret_cast<const int32_t*>(ids.data), int64_t(ids.size / 4), a);
  return Napi::Number::New(info.Env(), double(id));
}

// cudaDecodeTraffic(config, linearDtype code, mlpInner, context) -> { moved, unavoidable, weights, launches,
// kernels: [{kernel, launches, read, write}] }: one CUDA decode step by its launch plans (model/decode_traffic.h)
NL_EXPORT(cudaDecodeTraffic) {
  const ModelConfig c = config_arg(info, 0, "cudaDecodeTraffic");
  const DecodeTraffic t = cuda_decode_traffic(c, DType(arg_int(info, 1, "linearDtype")), arg_int(info, 2, "mlpInner"),
                                              arg_int(info, 3, "context"));
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("moved", t.moved);
  o.Set("unavoidable", t.unavoidable);
  o.Set("weights", t.weights);
  o.Set("launches", double(t.launches));
  Napi::Array ks = Napi::Array::New(env, t.kernels.size());
  for (size_t k = 0; k < t.kernels.size(); k++) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("kernel", t.kernels[k].kernel);
    e.Set("launches", double(t.kernels[k].launches));
    e.Set("read", t.kernels[k].read);
    e.Set("write", t.kernels[k].write);
    ks.Set(uint32_t(k), e);
  }
  o.Set("kernels", ks);
  return o;
}

// modelEnums() -> { role, kind, hookPoint, dtype, readOnlyHooks }: the native enums by name → code,
// so the TypeScript tables can be checked against them.
NL_EXPORT(modelEnums) {
  Napi::Env env = info.Env();
  auto table = [&](const std::vector<const char*>& names) {
    Napi::Object o = Napi::Object::New(env);
    for (size_t i = 0; i < names.size(); i++) o.Set(names[i], Napi::Number::New(env, double(i)));
    return o;
  };
  static const std::vector<const char*> dtypes = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2",
                                                  "I8", "I16", "I32", "I64", "U8", "BOOL"};
  NL_CHECK(dtypes.size() == size_t(DType::COUNT), "modelEnums: dtype names out of step with enum DType");
  Napi::Object o = Napi::Object::New(env);
  o.Set("role", table(role_names()));
  o.Set("kind", table(kind_names()));
  o.Set("hookPoint", table(hook_point_names()));
  o.Set("dtype", table(dtypes));
  Napi::Array ro = Napi::Array::New(env);
  uint32_t k = 0;
  for (int p = 0; p < H_COUNT; p++) if (hook_is_read_only(p)) ro.Set(k++, Napi::String::New(env, hook_point_names()[size_t(p)]));
  o.Set("readOnlyHooks", ro);
  return o;
}

}  // namespace nl
