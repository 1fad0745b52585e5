#include "cpu/stats.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <mutex>

#include "cpu/fp8_codec.h"
#include "thread_pool.h"

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__)
#define NL_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NL_SIMD_CLONES
#endif

namespace nl {

namespace {

constexpr size_t kSpan = 2048;

// Visits the tensor as spans of <= kSpan f32 values (dequantised), split across threads.
// fn(thread_slot, values, count) — thread_slot indexes per-thread accumulators.
template <class Fn>
void for_each_span(const TensorSource& s, Fn&& fn, int slots) {
  size_t n = s.count();
  size_t chunks = std::max<size_t>(1, std::min<size_t>(size_t(slots) * 8, (n + (1 << 16) - 1) >> 16));
  size_t per = (n + chunks - 1) / chunks;
  std::atomic<size_t> next{0};
  parallel_threads([&](int t) {
    alignas(64) float buf[kSpan];
    for (;;) {
      size_t c = next.fetch_add(1);
      if (c >= chunks) return;
      size_t b = c * per, e = std::min(n, b + per);
      for (size_t i = b; i < e;) {
        size_t m = std::min(kSpan, e - i);
        if (s.scale) {
          size_t r = i / s.cols, col = i % s.cols;
          m = std::min(m, s.cols - col);  // stay within one row so the scale row is fixed
          to_f32(s.data, s.dtype, i, m, buf);
          const float* sc = s.scale + (r / s.block_rows) * ((s.cols + s.block_cols - 1) / s.block_cols);
          for (size_t k = 0; k < m; k++) buf[k] *= sc[(col + k) / s.block_cols];
          fn(t, buf, m);
        } else if (s.dtype == DType::F32) {
          fn(t, reinterpret_cast<const float*>(s.data) + i, m);
        } else {
          to_f32(s.data, s.dtype, i, m, buf);
          fn(t, buf, m);
        }
        i += m;
      }
    }
  });
}

struct alignas(64) SpanSums {
  float sum, sumsq, min, max, absmax;
  uint32_t zeros, nonfinite;
};

// Lane-parallel accumulators so the compiler vectorises without -ffast-math.
NL_SIMD_CLONES SpanSums span_sums(const float* x, size_t n) {
  constexpr int L = 16;
  float s[L] = {}, ss[L] = {}, mn[L], mx[L], am[L] = {};
  uint32_t z[L] = {}, nf[L] = {};
  for (int j = 0; j < L; j++) { mn[j] = INFINITY; mx[j] = -INFINITY; }
  size_t i = 0;
  for (; i + L <= n; i += L) {
    for (int j = 0; j < L; j++) {
      float v = x[i + j];
      float a = std::fabs(v);
      bool fin = a <= FLT_MAX;
      float f = fin ? v : 0.0f;
      s[j] += f;
      ss[j] += f * f;
      mn[j] = std::min(mn[j], fin ? v : INFINITY);
      mx[j] = std::max(mx[j], fin ? v : -INFINITY);
      am[j] = std::max(am[j], fin ? a : 0.0f);
      z[j] += v == 0.0f;
      nf[j] += !fin;
    }
  }
  for (; i < n; i++) {
    float v = x[i], a = std::fabs(v);
    bool fin = a <= FLT_MAX;
    float f = fin ? v : 0.0f;
    s[0] += f; ss[0] += f * f;
    mn[0] = std::min(mn[0], fin ? v : INFINITY);
    mx[0] = std::max(mx[0], fin ? v : -INFINITY);
    am[0] = std::max(am[0], fin ? a : 0.0f);
    z[0] += v == 0.0f; nf[0] += !fin;
  }
  SpanSums r{0, 0, INFINITY, -INFINITY, 0, 0, 0};
  for (int j = 0; j < L; j++) {
    r.sum += s[j]; r.sumsq += ss[j];
    r.min = std::min(r.min, mn[j]); r.max = std::max(r.max, mx[j]); r.absmax = std::max(r.absmax, am[j]);
    r.zeros += z[j]; r.nonfinite += nf[j];
  }
  return r;
}

void merge(Moments& a, const Moments& b) {
  a.sum += b.sum; a.sumsq += b.sumsq;
  a.min = std::min(a.min, b.min); a.max = std::max(a.max, b.max); a.absmax = std::max(a.absmax, b.absmax);
  a.min_abs_nonzero = std::min(a.min_abs_nonzero, b.min_abs_nonzero);
  a.finite += b.finite; a.zeros += b.zeros; a.nan += b.nan; a.pos_inf += b.pos_inf; a.neg_inf += b.neg_inf;
}

void add_value(Moments& m, double v) {
  if (std::isnan(v)) { m.nan++; return; }
  if (std::isinf(v)) { (v > 0 ? m.pos_inf : m.neg_inf)++; return; }
  m.finite++;
  m.sum += v; m.sumsq += v * v;
  m.min = std::min(m.min, v); m.max = std::max(m.max, v); m.absmax = std::max(m.absmax, std::fabs(v));
  if (v == 0) m.zeros++;
  else m.min_abs_nonzero = std::min(m.min_abs_nonzero, std::fabs(v));
}

inline uint32_t sort_key(float v) {
  uint32_t u = f32_bits(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

NL_SIMD_CLONES float min_abs_nonzero(const float* x, size_t n) {
  float r = INFINITY;
  for (size_t i = 0; i < n; i++) {
    float a = std::fabs(x[i]);
    r = std::min(r, (a > 0.0f && a <= FLT_MAX) ? a : INFINITY);
  }
  return r;
}

}  // namespace

Moments compute_moments(const TensorSource& s) {
  int T = num_threads();
  std::vector<Moments> per(T);
  for_each_span(s, [&](int t, const float* x, size_t m) {
    SpanSums r = span_sums(x, m);
    Moments& a = per[t];
    a.sum += r.sum; a.sumsq += r.sumsq;
    a.min = std::min(a.min, double(r.min)); a.max = std::max(a.max, double(r.max));
    a.absmax = std::max(a.absmax, double(r.absmax));
    a.min_abs_nonzero = std::min(a.min_abs_nonzero, double(min_abs_nonzero(x, m)));
    a.zeros += r.zeros;
    a.finite += m - r.nonfinite;
    if (r.nonfinite) {
      for (size_t i = 0; i < m; i++) {
        if (std::isnan(x[i])) a.nan++;
        else if (std::isinf(x[i])) (x[i] > 0 ? a.pos_inf : a.neg_inf)++;
      }
    }
  }, T);
  Moments total;
  for (auto& p : per) merge(total, p);
  return total;
}

Moments compute_moments_reference(const TensorSource& s) {
  Moments m;
  std::vector<float> row(s.cols);
  for (size_t r = 0; r < s.rows; r++) {
    to_f32(s.data, s.dtype, r * s.cols, s.cols, row.data());
    for (size_t c = 0; c < s.cols; c++) {
      double v = row[c];
      if (s.scale) v = float(v * s.scale[(r / s.block_rows) * ((s.cols + s.block_cols - 1) / s.block_cols) + c / s.block_cols]);
      add_value(m, v);
    }
  }
  return m;
}

std::vector<double> compute_percentiles(const TensorSource& s, const std::vector<double>& q, uint64_t finite) {
  std::vector<double> out(q.size(), NAN);
  if (finite == 0) return out;
  int T = num_threads();
  // Pass 1: counts of the top 16 bits of each value's sortable key.
  std::vector<std::vector<uint64_t>> hist(T, std::vector<uint64_t>(65536, 0));
  for_each_span(s, [&](int t, const float* x, size_t m) {
    uint64_t* h = hist[t].data();
    for (size_t i = 0; i < m; i++) {
      if (std::fabs(x[i]) <= FLT_MAX) h[sort_key(x[i]) >> 16]++;
    }
  }, T);
  std::vector<uint64_t> cum(65537, 0);
  for (int b = 0; b < 65536; b++) {
    uint64_t c = 0;
    for (int t = 0; t < T; t++) c += hist[t][b];
    cum[b + 1] = cum[b] + c;
  }
  // Ranks needed (both neighbours for interpolation) and the buckets holding them.
  std::vector<uint64_t> ranks;
  for (double p : q) {
    double pos = std::clamp(p, 0.0, 100.0) / 100.0 * double(finite - 1);
    ranks.push_back(uint64_t(std::floor(pos)));
    ranks.push_back(uint64_t(std::ceil(pos)));
  }
  std::vector<char> wanted(65536, 0);
  for (uint64_t k : ranks) {
    size_t b = std::upper_bound(cum.begin(), cum.end(), k) - cum.begin() - 1;
    wanted[b] = 1;
  }
  // Pass 2: gather the values of the wanted buckets, then sort each bucket.
  std::vector<std::vector<std::pair<uint32_t, float>>> picked(T);
  for_each_span(s, [&](int t, const float* x, size_t m) {
    for (size_t i = 0; i < m; i++) {
      if (!(std::fabs(x[i]) <= FLT_MAX)) continue;
      uint32_t k = sort_key(x[i]);
      if (wanted[k >> 16]) picked[t].emplace_back(k, x[i]);
    }
  }, T);
  std::vector<std::pair<uint32_t, float>> all;
  for (auto& p : picked) all.insert(all.end(), p.begin(), p.end());
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first < b.first; });
  // all is sorted by key; its i-th element has global rank cum[bucket] + (index within bucket).
  auto value_at = [&](uint64_t rank) -> double {
    size_t b = std::upper_bound(cum.begin(), cum.end(), rank) - cum.begin() - 1;
    auto first = std::lower_bound(all.begin(), all.end(), uint32_t(b) << 16,
                                  [](const std::pair<uint32_t, float>& e, uint32_t k) { return e.first < k; });
    return (first + (rank - cum[b]))->second;
  };
  for (size_t i = 0; i < q.size(); i++) {
    double pos = std::clamp(q[i], 0.0, 100.0) / 100.0 * double(finite - 1);
    double lo = value_at(uint64_t(std::floor(pos))), hi = value_at(uint64_t(std::ceil(pos)));
    out[i] = lo + (hi - lo) * (pos - std::floor(pos));
  }
  return out;
}

Histogram compute_histogram(const TensorSource& s, size_t bins, double lo, double hi, bool log_bins) {
  NL_CHECK(bins > 0, "histogram needs at least one bin");
  NL_CHECK(hi >= lo, "histogram range must have hi >= lo");
  NL_CHECK(!log_bins || lo > 0, "log bins need lo > 0");
  Histogram h;
  h.edges.resize(bins + 1);
  double a = log_bins ? std::log(lo) : lo, b = log_bins ? std::log(hi) : hi;
  for (size_t i = 0; i <= bins; i++) {
    double e = a + (b - a) * double(i) / double(bins);
    h.edges[i] = log_bins ? std::exp(e) : e;
  }
  h.edges[0] = lo; h.edges[bins] = hi;
  double width = (b - a) / double(bins);
  int T = num_threads();
  std::vector<std::vector<uint64_t>> counts(T, std::vector<uint64_t>(bins + 2, 0));  // [below, bins..., above]
  for_each_span(s, [&](int t, const float* x, size_t m) {
    uint64_t* c = counts[t].data();
    for (size_t i = 0; i < m; i++) {
      double v = x[i];
      if (!(std::fabs(v) <= DBL_MAX)) continue;
      if (log_bins) v = std::fabs(v);
      if (v < lo) { c[0]++; continue; }
      if (v > hi) { c[bins + 1]++; continue; }
      double p = log_bins ? std::log(v) : v;
      size_t k = width > 0 ? size_t((p - a) / width) : 0;
      if (k >= bins) k = bins - 1;
      // Guard rounding at the edges so each value lands in [edges[k], edges[k+1]).
      while (k > 0 && v < h.edges[k]) k--;
      while (k + 1 < bins && v >= h.edges[k + 1]) k++;
      c[k + 1]++;
    }
  }, T);
  h.counts.assign(bins, 0);
  for (int t = 0; t < T; t++) {
    h.below += counts[t][0];
    h.above += counts[t][bins + 1];
    for (size_t k = 0; k < bins; k++) h.counts[k] += counts[t][k + 1];
  }
  return h;
}

}  // namespace nl
