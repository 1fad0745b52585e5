// Files, threads and devices: mapFile, mapReadAhead, threads, setThreads, cudaInfo, copyBytes, readSum.
#include <cstring>
#include <memory>
#include <mutex>

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

// mapReadAhead(handle) -> bytes read ahead so far; the first call starts the background
// read-ahead of the whole mapping (MappedFile::read_ahead).
NL_EXPORT(mapReadAhead) {
  if (!info[0].IsExternal()) throw Error("argument 'handle' must come from mapFile");
  MappingRef& ref = *info[0].As<Napi::External<MappingRef>>().Data();
  ref->read_ahead();
  return Napi::Number::New(info.Env(), double(ref->read_ahead_done()));
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

// Sequential read bandwidth, the limit of decoding (it reads every weight once per token and
// writes next to nothing): a wrapping sum of 64-bit words, 4 independent accumulators so the
// compiler vectorises it, threads over 1 MiB grains. The result proves every byte was read.
namespace {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
uint64_t sum_words(const uint64_t* w, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) { a += w[i]; b += w[i + 1]; c += w[i + 2]; d += w[i + 3]; }
  for (; i < n; i++) a += w[i];
  return a + b + c + d;
}

// Bytes past the last whole word count as the low byte of a word.
uint64_t sum_tail(const uint8_t* p, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; i++) s += p[i];
  return s;
}
}  // namespace

// readSum(src, reference): the wrapping sum of src read as little-endian 64-bit words. The
// reference is the plain single-threaded loop, word by word.
NL_EXPORT(readSum) {
  Bytes src = arg_bytes(info, 0, "src");
  const bool reference = info.Length() > 1 && info[1].ToBoolean().Value();
  const size_t words = src.size / 8;
  uint64_t total = sum_tail(src.data + words * 8, src.size - words * 8);
  if (reference) {
    for (size_t i = 0; i < words; i++) {
      uint64_t w;
      std::memcpy(&w, src.data + i * 8, 8);
      total += w;
    }
  } else {
    std::mutex mu;
    parallel_for(words, size_t(1) << 17, [&](size_t b, size_t e) {
      uint64_t part;
      if (reinterpret_cast<uintptr_t>(src.data) % 8 == 0) {
        part = sum_words(reinterpret_cast<const uint64_t*>(src.data) + b, e - b);
      } else {  // unaligned view: copy word by word (not the benchmark's case)
        part = 0;
        for (size_t i = b; i < e; i++) { uint64_t w; std::memcpy(&w, src.data + i * 8, 8); part += w; }
      }
      std::lock_guard<std::mutex> g(mu);
      total += part;
    });
  }
  return Napi::BigInt::New(info.Env(), total);
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
