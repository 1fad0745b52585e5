// The sample op (backend.h's SampleArgs): the next token from a logits row with
// src/generate/sampling.ts's chain. Two versions:
//   sample_reference: sampling.ts step by step (sorts, sequential sums): the definition;
//   sample_fast: the algorithm the CUDA kernel runs (cuda/sample.cu), in plain sequential code,
//     so the tests check that algorithm on every machine: no sort; top-k by a radix select of
//     the k-th largest value (4 passes of 8 bits over order-preserving keys), top-p by a radix
//     search over the probabilities' bits with the masses summed in 2^-60 fixed point (exact
//     and order-free, so a parallel sum is deterministic), ties resolved by id.
// Both give the same token for the same u unless a sum lands within rounding of a boundary.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>
#include <vector>

#include "cpu/kernels.h"
#include "sample_radix.h"

namespace nl {

void check_sample_args(int64_t n, const SampleArgs& a) {
  NL_CHECK(n > 0, "sample: empty logits row");
  NL_CHECK(a.temperature >= 0 && std::isfinite(a.temperature), "sample: temperature must be a finite number >= 0");
  NL_CHECK(a.top_k >= 0, "sample: top_k must be >= 0 (0 = off)");
  NL_CHECK(a.top_p > 0 && a.top_p <= 1, "sample: top_p must be in (0, 1]");
  NL_CHECK(a.min_p >= 0 && a.min_p <= 1, "sample: min_p must be in [0, 1]");
  NL_CHECK(a.repetition_penalty > 0 && std::isfinite(a.repetition_penalty), "sample: repetition_penalty must be finite and > 0");
  NL_CHECK(a.u >= 0 && a.u < 1, "sample: u must be in [0, 1)");
}

namespace {

// applyRepetitionPenalty: positive logits divided, negative multiplied (in double, stored as float).
void penalise(std::vector<float>& l, const SampleArgs& a) {
  if (a.repetition_penalty == 1) return;
  std::unordered_set<int32_t> seen;
  for (int64_t j = 0; j < a.n_context; j++) {
    const int32_t id = a.context[j];
    if (id < 0 || id >= int64_t(l.size()) || !seen.insert(id).second) continue;
    const float v = l[size_t(id)];
    l[size_t(id)] = v < 0 ? float(double(v) * a.repetition_penalty) : float(double(v) / a.repetition_penalty);
  }
}

// argmax of sampling.ts: the first index whose value beats every earlier one (NaN never does).
int32_t first_argmax(const std::vector<float>& l) {
  size_t best = 0;
  for (size_t i = 1; i < l.size(); i++)
    if (l[i] > l[best]) best = i;
  return int32_t(best);
}

void divide(std::vector<float>& l, double temperature) {
  if (temperature == 1) return;
  for (float& v : l) v = float(double(v) / temperature);
}

// softmax's exponentials e_i = exp(l_i - max) (0 for -inf) and their sum, in double.
struct Soft { double max, sum; };
Soft soft_stats(const std::vector<float>& l) {
  float m = -INFINITY;
  for (float v : l)
    if (v > m) m = v;
  NL_CHECK(m != -INFINITY, "sample: every logit is -Infinity (all tokens were filtered out)");
  double s = 0;
  for (float v : l) s += v == -INFINITY ? 0.0 : std::exp(double(v) - double(m));
  return {double(m), s};
}
inline double prob(float v, const Soft& s) { return (v == -INFINITY ? 0.0 : std::exp(double(v) - s.max)) / s.sum; }

// sampleIndex: the first index whose cumulative probability passes u (the last with mass if none).
int32_t draw(const std::vector<float>& l, double u) {
  const Soft s = soft_stats(l);
  double cum = 0;
  int64_t last = -1;
  for (size_t i = 0; i < l.size(); i++) {
    const double p = prob(l[i], s);
    if (p <= 0) continue;
    cum += p;
    last = int64_t(i);
    if (u < cum) return int32_t(i);
  }
  NL_CHECK(last >= 0, "sample: the distribution has no mass");
  return int32_t(last);
}

void min_p_filter(std::vector<float>& l, double p) {
  if (p <= 0) return;
  const Soft s = soft_stats(l);
  const double threshold = p * (1.0 / s.sum);  // the largest probability is e^0 / sum
  for (float& v : l)
    if (prob(v, s) < threshold) v = -INFINITY;
}

// ---- the reference: sampling.ts's steps ------------------------------------------------------

void top_k_reference(std::vector<float>& l, int64_t k) {
  if (!k || k >= int64_t(l.size())) return;
  std::vector<float> keys(l);
  for (float& v : keys)
    if (std::isnan(v)) v = -INFINITY;
  std::sort(keys.begin(), keys.end(), [](float a, float b) { return a > b; });
  const float threshold = keys[size_t(k - 1)];
  for (float& v : l)
    if (!(v >= threshold)) v = -INFINITY;
}

void top_p_reference(std::vector<float>& l, double p) {
  if (p >= 1) return;
  const Soft s = soft_stats(l);
  std::vector<double> probs(l.size()), cand;
  for (size_t i = 0; i < l.size(); i++) {
    probs[i] = prob(l[i], s);
    if (probs[i] > 0) cand.push_back(probs[i]);
  }
  std::sort(cand.begin(), cand.end());
  // Walk down from the most likely; a token is kept while the mass before it is < p (the first always).
  double mass = 0, t = cand.back();
  int64_t kept = 0;
  for (int64_t r = int64_t(cand.size()) - 1; r >= 0 && (kept == 0 || mass < p); r--) {
    t = cand[size_t(r)];
    mass += t;
    kept++;
  }
  int64_t ties_left = kept;
  for (int64_t r = int64_t(cand.size()) - 1; r >= 0 && cand[size_t(r)] > t; r--) ties_left--;
  for (size_t i = 0; i < l.size(); i++) {
    if (probs[i] > t) continue;
    if (probs[i] == t && ties_left > 0) { ties_left--; continue; }
    l[i] = -INFINITY;
  }
}

// ---- the kernel's algorithm ---------------------------------------------------------------------

// Order-preserving unsigned keys of floats (NaN ordered as -inf), and back.
inline uint32_t float_key(float x) {
  if (std::isnan(x)) x = -INFINITY;
  const uint32_t u = f32_bits(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
inline float key_float(uint32_t k) { return bits_f32((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k); }

// The k-th largest key: most significant byte first, each pass counting the candidates' next byte.
void top_k_radix(std::vector<float>& l, int64_t k) {
  if (!k || k >= int64_t(l.size())) return;
  uint32_t prefix = 0, mask = 0;
  long long rem = k;  // rank wanted among the keys that match the prefix
  for (int shift = 24; shift >= 0; shift -= 8) {
    uint64_t hist[256] = {};
    for (float v : l) {
      const uint32_t key = float_key(v);
      if ((key & mask) == prefix) hist[(key >> shift) & 255u]++;
    }
    prefix |= uint32_t(kth_largest_bin(hist, &rem)) << shift;
    mask |= 255u << shift;
  }
  const float threshold = key_float(prefix);
  for (float& v : l)
    if (!(v >= threshold)) v = -INFINITY;
}

inline uint64_t fixed60(double p) { return uint64_t(std::nearbyint(p * 0x1p60)); }

// The nucleus bar t: the largest probability whose mass at or above it reaches p (the smallest
// one if none does), found a byte at a time over the doubles' bits (positive doubles order as
// their bits); then the ties at t the walk of sampling.ts keeps, lowest ids first.
void top_p_radix(std::vector<float>& l, double p) {
  if (p >= 1) return;
  const Soft s = soft_stats(l);
  std::vector<double> probs(l.size());
  for (size_t i = 0; i < l.size(); i++) probs[i] = prob(l[i], s);
  const uint64_t P = fixed60(p);
  uint64_t prefix = 0, mask = 0, above = 0;  // above: mass of the probabilities whose bits exceed the prefix
  uint64_t ties = 0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    uint64_t count[256] = {}, mass[256] = {};
    for (double q : probs) {
      if (!(q > 0)) continue;
      uint64_t key;
      std::memcpy(&key, &q, 8);
      if ((key & mask) != prefix) continue;
      const unsigned d = unsigned(key >> shift) & 255u;
      count[d]++;
      mass[d] += fixed60(q);
    }
    const int chosen = nucleus_bin(count, mass, P, &above);
    prefix |= uint64_t(chosen) << shift;
    mask |= uint64_t(255) << shift;
    ties = count[chosen];
  }
  double t;
  std::memcpy(&t, &prefix, 8);
  uint64_t keep = ties_kept(above, fixed60(t), ties, P);
  for (size_t i = 0; i < l.size(); i++) {
    if (probs[i] > t) continue;
    if (probs[i] == t && keep > 0) { keep--; continue; }
    l[i] = -INFINITY;
  }
}

}  // namespace

namespace {

// sampling.ts's chain with the given top-k and top-p steps.
int32_t sample_chain(const float* logits, int64_t n, const SampleArgs& a, void (*top_k)(std::vector<float>&, int64_t),
                     void (*top_p)(std::vector<float>&, double)) {
  check_sample_args(n, a);
  std::vector<float> l(logits, logits + n);
  penalise(l, a);
  if (a.temperature == 0) return first_argmax(l);
  divide(l, a.temperature);
  top_k(l, a.top_k);
  top_p(l, a.top_p);
  min_p_filter(l, a.min_p);
  return draw(l, a.u);
}

}  // namespace

int32_t sample_reference(const float* logits, int64_t n, const SampleArgs& a) {
  return sample_chain(logits, n, a, top_k_reference, top_p_reference);
}

int32_t sample_fast(const float* logits, int64_t n, const SampleArgs& a) {
  return sample_chain(logits, n, a, top_k_radix, top_p_radix);
}

}  // namespace nl
