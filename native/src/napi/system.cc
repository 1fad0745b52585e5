// Files, threads and devices: mapFile, threads, setThreads, cudaInfo, copyBytes.
#include <cstring>

#include "mapped_file.h"
#include "napi/util.h"
#include "thread_pool.h"

#ifdef NL_WITH_CUDA
#include "cuda/device.h"
#endif

namespace nl {

// An ArrayBuffer over the mapped file; the mapping lives until the buffer is collected.
NL_EXPORT(mapFile) {
  if (!info[0].IsString()) throw Error("argument 'path' must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  MappedFile* m = MappedFile::open(path);
  if (m->size == 0) { delete m; return Napi::ArrayBuffer::New(info.Env(), 0); }
  return Napi::ArrayBuffer::New(info.Env(), m->data, m->size, [](Napi::Env, void*, MappedFile* mf) { delete mf; }, m);
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
