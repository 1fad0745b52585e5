// Causal grouped-query attention with no positional encoding (docs/model.md section 4): query
// head h reads kv head h / (nq / nkv); query t (of T new ones) sees cache positions
// [0, past + t]. The cache already holds the new keys and values, in fp32 or BF16 (read
// back exactly; the math is fp32). Threads split (query, head) pairs; the reference is the
// formula in fp64.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "simd.h"
#include "thread_pool.h"

namespace nl {

using namespace simd;

namespace {

void check_kv_dtype(const AttnArgs& a) {
  NL_CHECK(a.kv_dtype == DType::F32 || a.kv_dtype == DType::BF16, "attention: the KV cache must be F32 or BF16");
}

// Element i of a cache in the args' dtype.
float kv_at(const AttnArgs& a, const void* cache, int64_t i) {
  return a.kv_dtype == DType::BF16 ? bf16_to_f32(static_cast<const uint16_t*>(cache)[i]) : static_cast<const float*>(cache)[i];
}

// Row u of kv head `kv` as fp32: the cache itself when it is fp32, else widened into tmp.
const float* kv_row(const AttnArgs& a, const void* cache, int64_t u, int64_t kv, float* tmp) {
  const int64_t at = u * a.nkv * a.hd + kv * a.hd;
  if (a.kv_dtype == DType::F32) return static_cast<const float*>(cache) + at;
  const uint16_t* r = static_cast<const uint16_t*>(cache) + at;
  for (int64_t i = 0; i < a.hd; i++) tmp[i] = bf16_to_f32(r[i]);
  return tmp;
}

}  // namespace

void attention_reference(const AttnArgs& a) {
  check_kv_dtype(a);
  const int64_t rep = a.nq / a.nkv, ldq = a.nq * a.hd, ldk = a.nkv * a.hd;
  std::vector<double> s;
  for (int64_t t = 0; t < a.T; t++) {
    const int64_t len = a.past + t + 1;
    s.assign(len, 0.0);
    for (int64_t h = 0; h < a.nq; h++) {
      const int64_t kv = h / rep;
      const float* q = a.q + t * ldq + h * a.hd;
      double m = -INFINITY;
      for (int64_t u = 0; u < len; u++) {
        double d = 0;
        for (int64_t i = 0; i < a.hd; i++) d += double(q[i]) * kv_at(a, a.k, u * ldk + kv * a.hd + i);
        s[u] = d * a.scale;
        m = std::max(m, s[u]);
      }
      double sum = 0;
      for (int64_t u = 0; u < len; u++) { s[u] = std::exp(s[u] - m); sum += s[u]; }
      for (int64_t i = 0; i < a.hd; i++) {
        double o = 0;
        for (int64_t u = 0; u < len; u++) o += s[u] * kv_at(a, a.v, u * ldk + kv * a.hd + i);
        a.out[t * ldq + h * a.hd + i] = float(o / sum);
      }
    }
  }
}


void attention_fast(const AttnArgs& a) {
  check_kv_dtype(a);
  const int64_t rep = a.nq / a.nkv, ldq = a.nq * a.hd;
  parallel_for(size_t(a.T * a.nq), 1, [&](size_t b, size_t e) {
    std::vector<float> s(size_t(a.past + a.T)), tmp(size_t(a.hd));
    for (size_t i = b; i < e; i++) {
      const int64_t t = int64_t(i) / a.nq, h = int64_t(i) % a.nq, kv = h / rep, len = a.past + t + 1;
      const float* q = a.q + t * ldq + h * a.hd;
      float m = -INFINITY;
      for (int64_t u = 0; u < len; u++) {
        s[u] = dot_f32(q, kv_row(a, a.k, u, kv, tmp.data()), a.hd) * a.scale;
        m = std::max(m, s[u]);
      }
      float sum = 0;
      for (int64_t u = 0; u < len; u++) { s[u] = std::exp(s[u] - m); sum += s[u]; }
      float* o = a.out + t * ldq + h * a.hd;
      std::fill(o, o + a.hd, 0.0f);
      for (int64_t u = 0; u < len; u++) axpy_f32(s[u], kv_row(a, a.v, u, kv, tmp.data()), o, a.hd);
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j < a.hd; j++) o[j] *= inv;
    }
  });
}

}  // namespace nl
