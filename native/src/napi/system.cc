// Files, threads and devices: mapFile, threads, setThreads, cudaInfo, copyBytes.
#include <cstring>
#include <memory>

#include "mapped_file.h"
#include "napi/util.h"
#include "simd.h"
#include "thread_pool.h"

#ifdef NL_WITH_CUDA
#include "cuda/device.h"
#endif

namespace nl {

// Files are mapped whole (address space only) and exposed one tensor at a time: V8
// refuses external ArrayBuffers of 4 GiB and more, and checkpoint shards are ~5 GB.
// Each view holds a reference on the mapping, so it outlives the handle if need be.
using MappingRef = std::shared_ptr<MappedFile>;

// mapFile(path) -> opaque handle with the file size in `size`
NL_EXPORT(mapFile) {
  if (!info[0].IsString()) throw Error("argument 'path' must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  auto* ref = new MappingRef(MappedFile::open(path));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("handle", Napi::External<MappingRef>::New(info.Env(), ref, [](Napi::Env, MappingRef* r) { delete r; }));
  o.Set("size", double((*ref)->size));
  return o;
}

// mapView(handle, offset, length) -> ArrayBuffer over those bytes of the mapped file.
// V8 allows one external ArrayBuffer per start address: callers cache views per tensor.
NL_EXPORT(mapView) {
  if (!info[0].IsExternal()) throw Error("argument 'handle' must come from mapFile");
  MappingRef& ref = *info[0].As<Napi::External<MappingRef>>().Data();
  size_t offset = size_t(arg_int(info, 1, "offset")), length = size_t(arg_int(info, 2, "length"));
  NL_CHECK(offset <= ref->size && length <= ref->size - offset, "view [" + std::to_string(offset) + ", +" +
           std::to_string(length) + ") is outside the mapped file of " + std::to_string(ref->size) + " bytes");
  NL_CHECK(length < (size_t(1) << 32), "a single tensor view must be under 4 GiB (V8's limit for external buffers)");
  if (length == 0) return Napi::ArrayBuffer::New(info.Env(), 0);
  auto* hold = new MappingRef(ref);
  return Napi::ArrayBuffer::New(info.Env(), ref->data + offset, length,
                                [](Napi::Env, void*, MappingRef* r) { delete r; }, hold);
}

// The SIMD paths this process uses: "avx512vbmi", "avx2" or "plain".
NL_EXPORT(simdLevel) {
  return Napi::String::New(info.Env(), cpu_has_avx512vbmi() ? "avx512vbmi" : cpu_has_avx2() ? "avx2" : "plain");
}

NL_EXPORT(threads) { return Napi::Number::New(info.Env(), num_threads()); }

NL_EXPORT(setThreads) {
  set_num_threads(int(arg_int(info, 0, "n")));
  return Napi::Number::New(info.Env(), num_threads());
}

// Multi-threaded memcpy: the bandwidth yardstick the benchmarks print beside each kernel.
NL_EXPORT(copyBytes) {
  Bytes src = arg_bytes(info, 0, "src"), dst = arg_bytes(info, 1, "dst");
  NL_CHECK(dst.size >= src.size, "copyBytes: destination is smaller than source");
  parallel_for(src.size, size_t(1) << 20, [&](size_t b, size_t e) { std::memcpy(dst.data + b, src.data + b, e - b); });
  return info.Env().Undefined();
}

NL_EXPORT(cudaInfo) {
  Napi::Object o = Napi::Object::New(info.Env());
#ifdef NL_WITH_CUDA
  CudaInfo ci = cuda_info();
  o.Set("compiled", true);
  o.Set("devices", ci.devices);
  o.Set("name", ci.name);
  o.Set("error", ci.error);
#else
  o.Set("compiled", false);
  o.Set("devices", 0);
  o.Set("name", "");
  o.Set("error", "built without nvcc");
#endif
  return o;
}

}  // namespace nl
