// The sample op on the device (backend.h's SampleArgs): one block runs sampling.ts's chain
// over the logits row and writes only the chosen id. It is cpu/sample.cc's sample_fast, step
// for step, with block-wide loops: the repetition penalty and temperature into a work copy,
// top-k by a radix select of the k-th largest value (4 passes of 8 bits over order-preserving
// keys), top-p by a radix search over the probabilities' bits with masses summed in 2^-60
// fixed point (integer atomics: exact, so the result does not depend on thread order), ties
// at the bar kept lowest id first (a block scan over contiguous chunks), min-p, then the
// inverse-CDF draw at u (chunk sums scanned, then each thread walks its chunk). Sums are fixed
// trees (deterministic run to run); they differ from the CPU's sequential sums only in
// rounding, which changes a choice only when a sum lands within rounding of a boundary.
// The block is a single one: the work is ~20 passes over one row (0.5 MB at the 9B's
// vocabulary), small beside a decode step's weight reads, and it saves the 512 KB copy back.
#include "cuda/kernels.h"
#include "cuda/plan.h"
#include "sample_radix.h"

namespace nl {
namespace cuda {

namespace {

constexpr int kThreads = kSampleThreads;  // the plan's (cuda/plan.h)
constexpr int kWarps = kThreads / 32;

struct Params {
  double temperature, top_p, min_p, penalty, u;
  int64_t top_k, n, n_context;
  const int32_t* context;  // distinct ids, device memory
};

__device__ __forceinline__ uint32_t float_key(float x) {
  if (isnan(x)) x = -INFINITY;
  const uint32_t u = __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float key_float(uint32_t k) { return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k); }
__device__ __forceinline__ unsigned long long fixed60(double p) { return __double2ull_rn(p * 0x1p60); }

// Block-wide reductions and scans (every thread calls them; every thread gets the result).
template <class T, class Op>
__device__ T block_reduce(T v, Op op) {
  __shared__ T part[kWarps];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();  // part[] may still be read by the previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = part[0];
  for (int w = 1; w < kWarps; w++) v = op(v, part[w]);
  return v;
}
// The sum of v over the threads before this one.
template <class T>
__device__ T block_exclusive_scan(T v) {
  __shared__ T part[kWarps];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  T incl = v;
  for (int o = 1; o < 32; o <<= 1) {
    const T y = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += y;
  }
  __syncthreads();
  if (lane == 31) part[warp] = incl;
  __syncthreads();
  T base = T(0);
  for (int w = 0; w < warp; w++) base += part[w];
  return base + incl - v;
}

struct MaxF { __device__ float operator()(float a, float b) const { return fmaxf(a, b); } };  // NaN skipped
struct SumD { __device__ double operator()(double a, double b) const { return a + b; } };
struct MinI { __device__ long long operator()(long long a, long long b) const { return a < b ? a : b; } };
struct MaxI { __device__ long long operator()(long long a, long long b) const { return a > b ? a : b; } };

// This thread's contiguous chunk [b, e) (scans and tie ranks need the ids in order).
__device__ __forceinline__ void chunk(int64_t n, int64_t* b, int64_t* e) {
  const int64_t per = (n + kThreads - 1) / kThreads;
  *b = min(n, int64_t(threadIdx.x) * per);
  *e = min(n, *b + per);
}

struct Soft { double max, sum; };
// softmax's max and sum of e_i = exp(w_i - max) (0 for -inf); max -inf: nothing left (err set).
__device__ Soft soft_stats(const float* w, int64_t n, int* err) {
  float m = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) m = fmaxf(m, w[i]);
  m = block_reduce(m, MaxF());
  if (m == -INFINITY) { *err = 1; return {double(m), 0.0}; }
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) s += w[i] == -INFINITY ? 0.0 : exp(double(w[i]) - double(m));
  return {double(m), block_reduce(s, SumD())};
}
__device__ __forceinline__ double prob(float v, const Soft& s) { return (v == -INFINITY ? 0.0 : exp(double(v) - s.max)) / s.sum; }

__device__ void top_k(float* w, int64_t n, int64_t k) {
  __shared__ unsigned long long hist[256];
  __shared__ uint32_t s_prefix;
  __shared__ long long s_rem;
  uint32_t prefix = 0, mask = 0;
  long long rem = k;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int d = threadIdx.x; d < 256; d += kThreads) hist[d] = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
      const uint32_t key = float_key(w[i]);
      if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1ull);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      s_prefix = prefix | (uint32_t(kth_largest_bin(hist, &rem)) << shift);
      s_rem = rem;
    }
    __syncthreads();
    prefix = s_prefix;
    rem = s_rem;
    mask |= 255u << shift;
  }
  const float threshold = key_float(prefix);
  for (int64_t i = threadIdx.x; i < n; i += kThreads)
    if (!(w[i] >= threshold)) w[i] = -INFINITY;
  __syncthreads();
}

__device__ void top_p(float* w, double* probs, int64_t n, double p, int* err) {
  const Soft s = soft_stats(w, n, err);
  if (*err) return;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) probs[i] = prob(w[i], s);
  __syncthreads();
  __shared__ unsigned long long count[256], mass[256];
  __shared__ unsigned long long s_prefix, s_above, s_ties;
  const unsigned long long P = fixed60(p);
  unsigned long long prefix = 0, mask = 0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int d = threadIdx.x; d < 256; d += kThreads) count[d] = mass[d] = 0;
    if (threadIdx.x == 0 && shift == 56) s_above = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
      const double q = probs[i];
      if (!(q > 0)) continue;
      const unsigned long long key = (unsigned long long)__double_as_longlong(q);
      if ((key & mask) != prefix) continue;
      const unsigned d = unsigned(key >> shift) & 255u;
      atomicAdd(&count[d], 1ull);
      atomicAdd(&mass[d], fixed60(q));
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      unsigned long long above = s_above;
      const int chosen = nucleus_bin(count, mass, P, &above);
      s_prefix = prefix | ((unsigned long long)chosen << shift);
      s_above = above;
      s_ties = count[chosen];
    }
    __syncthreads();
    prefix = s_prefix;
    mask |= 255ull << shift;
  }
  const double t = __longlong_as_double((long long)prefix);
  const unsigned long long keep = ties_kept(s_above, fixed60(t), (unsigned long long)s_ties, P);
  // Ties at t ranked by id: count them per chunk, scan, then each thread masks its chunk.
  int64_t b, e;
  chunk(n, &b, &e);
  long long mine = 0;
  for (int64_t i = b; i < e; i++) mine += probs[i] == t;
  long long rank = block_exclusive_scan(mine);
  for (int64_t i = b; i < e; i++) {
    const double q = probs[i];
    if (q > t) continue;
    if (q == t && rank < (long long)keep) { rank++; continue; }
    w[i] = -INFINITY;
  }
  __syncthreads();
}

__device__ void min_p(float* w, int64_t n, double p, int* err) {
  const Soft s = soft_stats(w, n, err);
  if (*err) return;
  const double threshold = p * (1.0 / s.sum);  // the largest probability is e^0 / sum
  for (int64_t i = threadIdx.x; i < n; i += kThreads)
    if (prob(w[i], s) < threshold) w[i] = -INFINITY;
  __syncthreads();
}

// out[0] = the token, or -1: every logit was -inf.
__global__ void __launch_bounds__(kThreads) sample_kernel(const float* __restrict__ logits, Params a, float* w, double* probs,
                                                          int* out) {
  const int64_t n = a.n;
  __shared__ int err;
  if (threadIdx.x == 0) err = 0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) w[i] = logits[i];
  __syncthreads();
  if (a.penalty != 1)  // distinct ids: no two threads touch one logit
    for (int64_t j = threadIdx.x; j < a.n_context; j += kThreads) {
      const int32_t id = a.context[j];
      if (id < 0 || id >= n) continue;
      const float v = w[id];
      w[id] = v < 0 ? float(double(v) * a.penalty) : float(double(v) / a.penalty);
    }
  __syncthreads();
  if (a.temperature == 0) {  // greedy: the first index of the largest value; index 0 if it is NaN
    float bv = -INFINITY;
    long long bi = n;
    for (int64_t i = threadIdx.x; i < n; i += kThreads)
      if (w[i] > bv) { bv = w[i]; bi = i; }
    const float m = block_reduce(bv, MaxF());
    const long long first = block_reduce(bv == m ? bi : (long long)n, MinI());
    if (threadIdx.x == 0) out[0] = isnan(w[0]) || first >= n ? 0 : int(first);
    return;
  }
  if (a.temperature != 1)
    for (int64_t i = threadIdx.x; i < n; i += kThreads) w[i] = float(double(w[i]) / a.temperature);
  __syncthreads();
  if (a.top_k > 0 && a.top_k < n) top_k(w, n, a.top_k);
  if (a.top_p < 1) top_p(w, probs, n, a.top_p, &err);
  if (!err && a.min_p > 0) min_p(w, n, a.min_p, &err);
  __syncthreads();
  Soft s{0, 0};
  if (!err) s = soft_stats(w, n, &err);
  __syncthreads();
  if (err) {
    if (threadIdx.x == 0) out[0] = -1;
    return;
  }
  // The draw: the first id whose cumulative probability (in id order) passes u.
  int64_t b, e;
  chunk(n, &b, &e);
  double mine = 0;
  for (int64_t i = b; i < e; i++) mine += prob(w[i], s);
  double cum = block_exclusive_scan(mine);
  long long found = n, last = -1;
  for (int64_t i = b; i < e; i++) {
    const double q = prob(w[i], s);
    if (q <= 0) continue;
    cum += q;
    last = i;
    if (a.u < cum) { found = i; break; }
  }
  found = block_reduce(found, MinI());
  last = block_reduce(last, MaxI());
  if (threadIdx.x == 0) out[0] = found < n ? int(found) : int(last);
}

}  // namespace

void sample(const float* logits, int64_t n, const SampleArgs& a, const int32_t* context, float* work, double* probs, int* out,
            cudaStream_t s) {
  NL_CHECK(n > 0 && n <= int64_t(INT32_MAX), "cuda sample: the row must have 1 to 2^31-1 logits");
  const Params p{a.temperature, a.top_p, a.min_p, a.repetition_penalty, a.u, a.top_k, n, context ? a.n_context : 0, context};
  const Launch plan = sample_plan(n, a);
  sample_kernel<<<plan.grid_x, plan.threads, 0, s>>>(logits, p, work, probs, out);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
