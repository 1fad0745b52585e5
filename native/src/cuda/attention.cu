// Causal attention of T new queries over the KV cache (past + T positions, new keys
// already appended), grouped-query: query head h reads kv head h / (nq / nkv).
//   q (T, nq*hd) · k, v (past+T, nkv*hd) · out (T, nq*hd)
//   out[t, h] = Σ_{u <= past+t} softmax_u(scale · q[t,h]·k[u,kv]) · v[u,kv]
// One block per (t, h) of 4 warps; each warp takes every 4th key with an online softmax
// (running max, sum and weighted values in fp32, hd/32 values per lane), and the four
// partial results are merged at the end. Works for any context length (no score buffer).
// Decode (T = 1) is flash-decoding: the keys are also split across blocks (a block per
// (head, key range), so 40 heads still fill the GPU at long context), each writing its
// unnormalised (max, sum, values), and a second kernel merges the ranges.
// The KV cache is fp32 or BF16 (the kernels are instantiated for both; BF16 is widened
// exactly on load, so both read the values the CPU backend reads).
#include <algorithm>

#include "cuda/kernels.h"
#include "cuda/plan.h"

namespace nl {
namespace cuda {

namespace {

constexpr int kWarps = kAttnWarps;  // the plan's (cuda/plan.h)
constexpr int kMaxHdPerLane = 8;  // hd <= 256

// Online softmax of query (t, h) over keys [u0, u1) of its causal range; the block's four
// warps merged into (M, L, o[hd]) unnormalised, in shared memory, returned by thread.
struct Partial { float m, l; };

__device__ __forceinline__ float kv_load(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float kv_load(const uint16_t* p, int64_t i) { return bf16_f32(p[i]); }

template <class KV>
__device__ Partial attend_range(const AttnArgs& a, int64_t t, int64_t h, int64_t u0, int64_t u1, float* o_shared) {
  const int64_t kv = h / (a.nq / a.nkv), hd = a.hd, ldq = a.nq * hd, ldk = a.nkv * hd;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float q[kMaxHdPerLane], acc[kMaxHdPerLane];
#pragma unroll
  for (int j = 0; j < kMaxHdPerLane; j++) {
    const int64_t i = lane + 32 * j;
    q[j] = i < hd ? a.q[t * ldq + h * hd + i] : 0.0f;
    acc[j] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t u = u0 + warp; u < u1; u += kWarps) {
    const KV* k = static_cast<const KV*>(a.k) + u * ldk + kv * hd;
    const KV* v = static_cast<const KV*>(a.v) + u * ldk + kv * hd;
    float d = 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxHdPerLane; j++) {
      const int64_t i = lane + 32 * j;
      if (i < hd) d += q[j] * kv_load(k, i);
    }
    const float sc = warp_sum(d) * a.scale;
    const float mn = fmaxf(m, sc), corr = expf(m - mn), p = expf(sc - mn);
    l = l * corr + p;
#pragma unroll
    for (int j = 0; j < kMaxHdPerLane; j++) {
      const int64_t i = lane + 32 * j;
      if (i < hd) acc[j] = acc[j] * corr + p * kv_load(v, i);
    }
    m = mn;
  }
  // merge the warps' (m, l, acc)
  __shared__ float sm[kWarps], sl[kWarps], sacc[kWarps][32 * kMaxHdPerLane];
  if (lane == 0) { sm[warp] = m; sl[warp] = l; }
#pragma unroll
  for (int j = 0; j < kMaxHdPerLane; j++) {
    const int64_t i = lane + 32 * j;
    if (i < hd) sacc[warp][i] = acc[j];
  }
  __syncthreads();
  float M = -INFINITY;
  for (int w = 0; w < kWarps; w++) M = fmaxf(M, sm[w]);
  float L = 0.0f, f[kWarps];
  for (int w = 0; w < kWarps; w++) {
    f[w] = sl[w] > 0.0f ? expf(sm[w] - M) : 0.0f;  // a warp with no keys has m = -inf, l = 0
    L += sl[w] * f[w];
  }
  for (int64_t i = threadIdx.x; i < hd; i += blockDim.x) {
    float o = 0.0f;
    for (int w = 0; w < kWarps; w++) o += sacc[w][i] * f[w];
    o_shared[i] = o;
  }
  return {M, L};
}

template <class KV>
__global__ void attention_kernel(AttnArgs a) {
  const int64_t t = blockIdx.x / a.nq, h = blockIdx.x % a.nq;
  __shared__ float o[32 * kMaxHdPerLane];
  const Partial p = attend_range<KV>(a, t, h, 0, a.past + t + 1, o);
  for (int64_t i = threadIdx.x; i < a.hd; i += blockDim.x) a.out[t * a.nq * a.hd + h * a.hd + i] = o[i] / p.l;
}

// Decode: block (h, s) takes keys [s·per, (s+1)·per) of the one new query; part[h, s] =
// (M, L, o[hd]) for the merge.
template <class KV>
__global__ void attention_split_kernel(AttnArgs a, int64_t per, float* __restrict__ part) {
  const int64_t h = blockIdx.x, s = blockIdx.y, len = a.past + 1;
  const int64_t u0 = s * per, u1 = min(len, u0 + per);
  __shared__ float o[32 * kMaxHdPerLane];
  const Partial p = attend_range<KV>(a, 0, h, u0, max(u0, u1), o);
  float* dst = part + (h * gridDim.y + s) * (a.hd + 2);
  if (threadIdx.x == 0) { dst[0] = p.m; dst[1] = p.l; }
  for (int64_t i = threadIdx.x; i < a.hd; i += blockDim.x) dst[2 + i] = o[i];
}

// out[h] = Σ_s o_s·e^(M_s - M) / Σ_s L_s·e^(M_s - M): one block per head.
__global__ void attention_merge_kernel(AttnArgs a, int splits, const float* __restrict__ part) {
  const int64_t h = blockIdx.x;
  const float* p = part + h * splits * (a.hd + 2);
  float M = -INFINITY;
  for (int s = 0; s < splits; s++) M = fmaxf(M, p[s * (a.hd + 2)]);
  float L = 0.0f;
  for (int s = 0; s < splits; s++) {
    const float* q = p + s * (a.hd + 2);
    if (q[1] > 0.0f) L += q[1] * expf(q[0] - M);
  }
  for (int64_t i = threadIdx.x; i < a.hd; i += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s < splits; s++) {
      const float* q = p + s * (a.hd + 2);
      if (q[1] > 0.0f) o += q[2 + i] * expf(q[0] - M);
    }
    a.out[h * a.hd + i] = o / L;
  }
}

// Scratch for the decode partials: device memory kept between calls (grown, never shrunk).
float* split_scratch(size_t floats) {
  static float* buf = nullptr;
  static size_t cap = 0;
  if (cap < floats) {
    if (buf) cudaFree(buf);  // synchronises: no queued kernel still reads it
    buf = nullptr;
    cap = 0;
    CUDA_CHECK(cudaMalloc(&buf, floats * sizeof(float)));
    cap = floats;
  }
  return buf;
}

template <class KV>
void launch(const AttnArgs& a, cudaStream_t s) {
  const AttentionPlan p = attention_plan(a);
  if (p.splits > 1) {
    float* part = split_scratch(size_t(a.nq * p.splits * (a.hd + 2)));
    attention_split_kernel<KV><<<dim3(p.main.grid_x, p.main.grid_y), p.main.threads, 0, s>>>(a, p.per_split, part);
    CUDA_LAUNCHED();
    attention_merge_kernel<<<p.merge.grid_x, p.merge.threads, 0, s>>>(a, int(p.splits), part);
  } else {
    attention_kernel<KV><<<p.main.grid_x, p.main.threads, 0, s>>>(a);
  }
  CUDA_LAUNCHED();
}

}  // namespace

void attention(const AttnArgs& a, cudaStream_t s) {
  NL_CHECK(a.hd <= 32 * kMaxHdPerLane, "cuda attention: head_dim must be <= " + std::to_string(32 * kMaxHdPerLane));
  NL_CHECK(a.nkv > 0 && a.nq % a.nkv == 0, "cuda attention: kv heads must divide query heads");
  if (a.T == 0) return;
  NL_CHECK(a.T * a.nq <= int64_t(INT32_MAX), "cuda attention: too many (token, head) pairs in one call");
  NL_CHECK(a.kv_dtype == DType::F32 || a.kv_dtype == DType::BF16, "cuda attention: the KV cache must be F32 or BF16");
  if (a.kv_dtype == DType::BF16) launch<uint16_t>(a, s);
  else launch<float>(a, s);
}

}  // namespace cuda
}  // namespace nl
