// N-API helpers: every exported function registers itself by name with NL_EXPORT, and
// nl::Error / std::exception thrown inside become JS Errors (a bad call never kills the
// kernel process). Buffers arrive as TypedArrays or ArrayBuffers and are used in place.
#pragma once
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

#include "common.h"

namespace nl {

using ExportFn = Napi::Value (*)(const Napi::CallbackInfo&);
std::vector<std::pair<const char*, ExportFn>>& export_registry();

struct ExportRegistration {
  ExportRegistration(const char* name, ExportFn fn) { export_registry().emplace_back(name, fn); }
};

#define NL_EXPORT(name)                                                                     \
  static Napi::Value name##_impl(const Napi::CallbackInfo& info);                          \
  static Napi::Value name##_entry(const Napi::CallbackInfo& info) {                        \
    try {                                                                                   \
      return name##_impl(info);                                                             \
    } catch (const Napi::Error&) {                                                          \
      throw;                                                                                \
    } catch (const std::exception& e) {                                                     \
      throw Napi::Error::New(info.Env(), std::string(#name ": ") + e.what());               \
    }                                                                                       \
  }                                                                                         \
  static ::nl::ExportRegistration name##_registration(#name, name##_entry);                \
  static Napi::Value name##_impl(const Napi::CallbackInfo& info)

struct Bytes {
  uint8_t* data = nullptr;
  size_t size = 0;
};

// A TypedArray / DataView / ArrayBuffer argument as raw bytes.
inline Bytes arg_bytes(const Napi::CallbackInfo& info, size_t i, const char* what) {
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    auto t = v.As<Napi::TypedArray>();
    auto ab = t.ArrayBuffer();
    return {static_cast<uint8_t*>(ab.Data()) + t.ByteOffset(), t.ByteLength()};
  }
  if (v.IsArrayBuffer()) {
    auto ab = v.As<Napi::ArrayBuffer>();
    return {static_cast<uint8_t*>(ab.Data()), ab.ByteLength()};
  }
  if (v.IsDataView()) {
    auto d = v.As<Napi::DataView>();
    return {static_cast<uint8_t*>(d.ArrayBuffer().Data()) + d.ByteOffset(), d.ByteLength()};
  }
  throw Error(std::string("argument '") + what + "' must be a TypedArray or ArrayBuffer");
}

inline double arg_number(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Error(std::string("argument '") + what + "' must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

inline int64_t arg_int(const Napi::CallbackInfo& info, size_t i, const char* what) {
  double d = arg_number(info, i, what);
  if (d != double(int64_t(d))) throw Error(std::string("argument '") + what + "' must be an integer");
  return int64_t(d);
}

inline bool arg_bool(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

inline DType arg_dtype(const Napi::CallbackInfo& info, size_t i) {
  int64_t d = arg_int(info, i, "dtype");
  if (d < 0 || d >= int64_t(DType::COUNT)) throw Error("unknown dtype code " + std::to_string(d));
  return DType(d);
}

}  // namespace nl
