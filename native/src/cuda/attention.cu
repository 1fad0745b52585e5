// Causal attention of T new queries over the KV cache (past + T positions, new keys
// already appended), grouped-query: query head h reads kv head h / (nq / nkv).
//   q (T, nq*hd) · k, v (past+T, nkv*hd) · out (T, nq*hd)
//   out[t, h] = Σ_{u <= past+t} softmax_u(scale · q[t,h]·k[u,kv]) · v[u,kv]
// One block per (t, h) of 4 warps; each warp takes every 4th key with an online softmax
// (running max, sum and weighted values in fp32, hd/32 values per lane), and the four
// partial results are merged at the end. Works for any context length (no score buffer).
#include "cuda/kernels.h"

namespace nl {
namespace cuda {

namespace {

constexpr int kWarps = 4;
constexpr int kMaxHdPerLane = 8;  // hd <= 256

__global__ void attention_kernel(AttnArgs a) {
  const int64_t t = blockIdx.x / a.nq, h = blockIdx.x % a.nq, kv = h / (a.nq / a.nkv);
  const int64_t hd = a.hd, ldq = a.nq * hd, ldk = a.nkv * hd, len = a.past + t + 1;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float q[kMaxHdPerLane], acc[kMaxHdPerLane];
#pragma unroll
  for (int j = 0; j < kMaxHdPerLane; j++) {
    const int64_t i = lane + 32 * j;
    q[j] = i < hd ? a.q[t * ldq + h * hd + i] : 0.0f;
    acc[j] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  for (int64_t u = warp; u < len; u += kWarps) {
    const float* k = a.k + u * ldk + kv * hd;
    const float* v = a.v + u * ldk + kv * hd;
    float d = 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxHdPerLane; j++) {
      const int64_t i = lane + 32 * j;
      if (i < hd) d += q[j] * k[i];
    }
    const float sc = warp_sum(d) * a.scale;
    const float mn = fmaxf(m, sc), corr = expf(m - mn), p = expf(sc - mn);
    l = l * corr + p;
#pragma unroll
    for (int j = 0; j < kMaxHdPerLane; j++) {
      const int64_t i = lane + 32 * j;
      if (i < hd) acc[j] = acc[j] * corr + p * v[i];
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
    a.out[t * ldq + h * hd + i] = o / L;
  }
}

}  // namespace

void attention(const AttnArgs& a, cudaStream_t s) {
  NL_CHECK(a.hd <= 32 * kMaxHdPerLane, "cuda attention: head_dim must be <= " + std::to_string(32 * kMaxHdPerLane));
  NL_CHECK(a.nkv > 0 && a.nq % a.nkv == 0, "cuda attention: kv heads must divide query heads");
  if (a.T == 0) return;
  NL_CHECK(a.T * a.nq <= int64_t(INT32_MAX), "cuda attention: too many (token, head) pairs in one call");
  attention_kernel<<<unsigned(a.T * a.nq), kWarps * 32, 0, s>>>(a);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
