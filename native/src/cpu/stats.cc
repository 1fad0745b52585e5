#include "cpu/stats.h"

#include <algorithm>
#include <memory>
#include <cfloat>
#include <mutex>

#include "cpu/fp8_codec.h"
#include "thread_pool.h"

#include "simd.h"

namespace nl {

namespace {

constexpr size_t kSpan = 2048;

// Visits the tensor as spans of <= kSpan f32 values (dequantised), split across threads.
// fn(thread_slot, values, count) — thread_slot indexes per-thread accumulators.
template <class Fn>
void for_each_span(const StoredMatrix& s, Fn&& fn, int slots) {
  const size_t n = size_t(s.count());
  const size_t chunks = std::max<size_t>(1, std::min<size_t>(size_t(slots) * 8, (n + (1 << 16) - 1) >> 16));
  parallel_chunks(n, (n + chunks - 1) / chunks, [&](int t, size_t b, size_t e) {
    alignas(64) float buf[kSpan];
    for (size_t i = b; i < e;) {
      size_t m = std::min(kSpan, e - i);
      if (s.scale) m = std::min(m, size_t(s.cols) - i % size_t(s.cols));  // one row: one scale row
      fn(t, read_span(s, i, m, buf), m);
      i += m;
    }
  });
}

struct alignas(64) SpanSums {
  float sum, sumsq, min, max, absmax, min_abs_nz;
  uint32_t zeros, nonfinite;
};

// Plain version: lane-parallel accumulators, in the order a vector unit would use.
SpanSums span_sums_plain(const float* x, size_t n) {
  constexpr int L = 8;
  float s[L] = {}, ss[L] = {}, mn[L], mx[L], am[L] = {}, mnz[L];
  uint32_t z[L] = {}, nf[L] = {};
  for (int j = 0; j < L; j++) { mn[j] = INFINITY; mx[j] = -INFINITY; mnz[j] = INFINITY; }
  for (size_t i = 0; i < n; i++) {
    int j = int(i % L);
    float v = x[i], a = std::fabs(v);
    bool fin = a <= FLT_MAX;
    float f = fin ? v : 0.0f;
    s[j] += f; ss[j] += f * f;
    mn[j] = std::min(mn[j], fin ? v : INFINITY);
    mx[j] = std::max(mx[j], fin ? v : -INFINITY);
    am[j] = std::max(am[j], fin ? a : 0.0f);
    mnz[j] = std::min(mnz[j], (fin && a > 0.0f) ? a : INFINITY);
    z[j] += v == 0.0f; nf[j] += !fin;
  }
  SpanSums r{0, 0, INFINITY, -INFINITY, 0, INFINITY, 0, 0};
  for (int j = 0; j < L; j++) {
    r.sum += s[j]; r.sumsq += ss[j];
    r.min = std::min(r.min, mn[j]); r.max = std::max(r.max, mx[j]); r.absmax = std::max(r.absmax, am[j]);
    r.min_abs_nz = std::min(r.min_abs_nz, mnz[j]);
    r.zeros += z[j]; r.nonfinite += nf[j];
  }
  return r;
}

#if NL_X86
// AVX2: eight lanes; non-finite lanes are masked out of the sums and extremes.
// Elements [b, e) of an F32/BF16/F16 buffer, read straight from the source (no f32 copy).
NL_TARGET_AVX2 SpanSums span_sums_avx2(const uint8_t* src, DType t, size_t b, size_t e) {
  const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(FLT_MAX);
  const __m256 pinf = _mm256_set1_ps(INFINITY), ninf = _mm256_set1_ps(-INFINITY), zero = _mm256_setzero_ps();
  __m256 s0 = zero, s1 = zero, q0 = zero, q1 = zero, mn = pinf, mx = ninf, am = zero, mnz = pinf;
  __m256i zc = _mm256_setzero_si256(), nfc = _mm256_setzero_si256();
  size_t i = b;
  for (; i + 16 <= e; i += 16) {
    for (int h = 0; h < 2; h++) {
      __m256 v = load8(src, t, i + 8 * h);
      __m256 a = _mm256_andnot_ps(sign, v);
      __m256 fin = _mm256_cmp_ps(a, big, _CMP_LE_OQ);
      __m256 f = _mm256_and_ps(v, fin);
      if (h == 0) { s0 = _mm256_add_ps(s0, f); q0 = _mm256_fmadd_ps(f, f, q0); }
      else { s1 = _mm256_add_ps(s1, f); q1 = _mm256_fmadd_ps(f, f, q1); }
      mn = _mm256_min_ps(mn, _mm256_blendv_ps(pinf, v, fin));
      mx = _mm256_max_ps(mx, _mm256_blendv_ps(ninf, v, fin));
      am = _mm256_max_ps(am, _mm256_and_ps(a, fin));
      mnz = _mm256_min_ps(mnz, _mm256_blendv_ps(pinf, a, _mm256_and_ps(fin, _mm256_cmp_ps(a, zero, _CMP_GT_OQ))));
      zc = _mm256_sub_epi32(zc, _mm256_castps_si256(_mm256_cmp_ps(v, zero, _CMP_EQ_OQ)));
      nfc = _mm256_sub_epi32(nfc, _mm256_castps_si256(_mm256_cmp_ps(a, big, _CMP_NLE_UQ)));
    }
  }
  alignas(32) float fs[8], fq[8], fmn[8], fmx[8], fam[8], fmnz[8];
  alignas(32) uint32_t iz[8], inf_[8];
  _mm256_store_ps(fs, _mm256_add_ps(s0, s1)); _mm256_store_ps(fq, _mm256_add_ps(q0, q1));
  _mm256_store_ps(fmn, mn); _mm256_store_ps(fmx, mx); _mm256_store_ps(fam, am); _mm256_store_ps(fmnz, mnz);
  _mm256_store_si256(reinterpret_cast<__m256i*>(iz), zc); _mm256_store_si256(reinterpret_cast<__m256i*>(inf_), nfc);
  float tail[16];
  to_f32(src, t, i, e - i, tail);
  SpanSums r = span_sums_plain(tail, e - i);
  for (int j = 0; j < 8; j++) {
    r.sum += fs[j]; r.sumsq += fq[j];
    r.min = std::min(r.min, fmn[j]); r.max = std::max(r.max, fmx[j]); r.absmax = std::max(r.absmax, fam[j]);
    r.min_abs_nz = std::min(r.min_abs_nz, fmnz[j]);
    r.zeros += iz[j]; r.nonfinite += inf_[j];
  }
  return r;
}
#endif

SpanSums span_sums(const float* x, size_t n) {
#if NL_X86
  if (cpu_has_avx2()) return span_sums_avx2(reinterpret_cast<const uint8_t*>(x), DType::F32, 0, n);
#endif
  return span_sums_plain(x, n);
}

constexpr size_t kChunk = size_t(1) << 16;

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

void count_nonfinite(Moments& a, const StoredMatrix& s, size_t b, size_t e) {
  float buf[1024];
  for (size_t i = b; i < e; i += 1024) {
    size_t m = std::min<size_t>(1024, e - i);
    to_f32(s.data, s.dtype, i, m, buf);
    for (size_t k = 0; k < m; k++) {
      if (std::isnan(buf[k])) a.nan++;
      else if (std::isinf(buf[k])) (buf[k] > 0 ? a.pos_inf : a.neg_inf)++;
    }
  }
}

inline uint32_t sort_key(float v) {
  uint32_t u = f32_bits(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

void add_span(Moments& a, const SpanSums& r, size_t m) {
  a.sum += r.sum; a.sumsq += r.sumsq;
  a.min = std::min(a.min, double(r.min)); a.max = std::max(a.max, double(r.max));
  a.absmax = std::max(a.absmax, double(r.absmax));
  a.min_abs_nonzero = std::min(a.min_abs_nonzero, double(r.min_abs_nz));
  a.zeros += r.zeros;
  a.finite += m - r.nonfinite;
}

}  // namespace

Moments compute_moments(const StoredMatrix& s) {
  int T = num_threads();
  std::vector<Moments> per(T);
#if NL_X86
  // Unscaled F32/BF16/F16 (the common case): vector loads straight from the mapped bytes.
  if (!s.scale && cpu_has_avx2() && (s.dtype == DType::F32 || s.dtype == DType::BF16 || s.dtype == DType::F16)) {
    std::vector<Moments> chunks((size_t(s.count()) + kChunk - 1) / kChunk);
    parallel_for(chunks.size(), 1, [&](size_t cb, size_t ce) {
      for (size_t c = cb; c < ce; c++) {
        size_t b = c * kChunk, e = std::min(size_t(s.count()), b + kChunk);
        SpanSums r = span_sums_avx2(s.data, s.dtype, b, e);
        add_span(chunks[c], r, e - b);
        if (r.nonfinite) count_nonfinite(chunks[c], s, b, e);
      }
    });
    Moments total;
    for (auto& c : chunks) merge(total, c);
    return total;
  }
#endif
  for_each_span(s, [&](int t, const float* x, size_t m) {
    SpanSums r = span_sums(x, m);
    Moments& a = per[t];
    add_span(a, r, m);
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

Moments compute_moments_reference(const StoredMatrix& s) {
  Moments m;
  std::vector<float> row(s.cols);
  for (size_t r = 0; r < size_t(s.rows); r++) {
    to_f32(s.data, s.dtype, r * size_t(s.cols), size_t(s.cols), row.data());
    for (size_t c = 0; c < size_t(s.cols); c++) {
      double v = row[c];
      if (s.scale) v = float(v * s.scale_at(int64_t(r), int64_t(c)));
      add_value(m, v);
    }
  }
  return m;
}

namespace {

// 8- and 16-bit dtypes have at most 65536 distinct values: one counting pass over the raw
// codes gives exact percentiles and histograms (F32 takes the radix select below).
bool countable(const StoredMatrix& s) {
  bool one_scale = s.single_scale();
  return one_scale && s.dtype != DType::F32 && s.dtype != DType::F64 && s.dtype != DType::I32 && s.dtype != DType::I64;
}

struct CodeCounts {
  std::vector<uint64_t> counts;  // per code
  std::vector<double> values;    // value of each code (with the tensor's one scale)
};

CodeCounts code_counts(const StoredMatrix& s) {
  size_t ncodes = dtype_size(s.dtype) == 2 ? 65536 : 256;
  size_t n = size_t(s.count());
  int T = num_threads();
  std::vector<std::vector<uint32_t>> per(T, std::vector<uint32_t>(2 * ncodes, 0));
  parallel_chunks(n, size_t(1) << 18, [&](int t, size_t lo, size_t hi) {
    uint32_t* a = per[t].data();
    uint32_t* b = a + ncodes;  // two tables: repeated codes do not serialise on one counter
    size_t i = lo;
    if (ncodes == 65536) {
      const uint16_t* p = reinterpret_cast<const uint16_t*>(s.data);
      for (; i + 2 <= hi; i += 2) { a[p[i]]++; b[p[i + 1]]++; }
      for (; i < hi; i++) a[p[i]]++;
    } else {
      const uint8_t* p = s.data;
      for (; i + 2 <= hi; i += 2) { a[p[i]]++; b[p[i + 1]]++; }
      for (; i < hi; i++) a[p[i]]++;
    }
  });
  CodeCounts r;
  r.counts.assign(ncodes, 0);
  for (auto& p : per)
    for (size_t c = 0; c < ncodes; c++) r.counts[c] += uint64_t(p[c]) + p[c + ncodes];
  r.values.resize(ncodes);
  float mul = s.scale ? s.scale[0] : 1.0f;
  for (size_t c = 0; c < ncodes; c++) {
    float v;
    uint16_t code16 = uint16_t(c);
    uint8_t code8 = uint8_t(c);
    to_f32(ncodes == 65536 ? reinterpret_cast<const uint8_t*>(&code16) : &code8, s.dtype, 0, 1, &v);
    r.values[c] = s.scale ? double(v * mul) : double(v);
  }
  return r;
}

// Every moment of the tensor from its code counts (sums in double, each distinct value once).
Moments moments_from_counts(const CodeCounts& cc) {
  Moments m;
  for (size_t c = 0; c < cc.counts.size(); c++) {
    uint64_t n = cc.counts[c];
    if (!n) continue;
    double v = cc.values[c];
    if (std::isnan(v)) { m.nan += n; continue; }
    if (std::isinf(v)) { (v > 0 ? m.pos_inf : m.neg_inf) += n; continue; }
    m.finite += n;
    m.sum += double(n) * v;
    m.sumsq += double(n) * v * v;
    m.min = std::min(m.min, v); m.max = std::max(m.max, v); m.absmax = std::max(m.absmax, std::fabs(v));
    if (v == 0) m.zeros += n;
    else m.min_abs_nonzero = std::min(m.min_abs_nonzero, std::fabs(v));
  }
  return m;
}

std::vector<double> percentiles_from_counts(const CodeCounts& cc, const std::vector<double>& q, uint64_t finite) {
  std::vector<std::pair<double, uint64_t>> vc;
  for (size_t c = 0; c < cc.counts.size(); c++)
    if (cc.counts[c] && std::isfinite(cc.values[c])) vc.emplace_back(cc.values[c], cc.counts[c]);
  std::sort(vc.begin(), vc.end());
  std::vector<uint64_t> cum(vc.size() + 1, 0);
  for (size_t i = 0; i < vc.size(); i++) cum[i + 1] = cum[i] + vc[i].second;
  auto value_at = [&](uint64_t rank) {
    size_t i = std::upper_bound(cum.begin(), cum.end(), rank) - cum.begin() - 1;
    return vc[i].first;
  };
  std::vector<double> out;
  if (finite == 0) return std::vector<double>(q.size(), NAN);
  for (double p : q) {
    double pos = std::clamp(p, 0.0, 100.0) / 100.0 * double(finite - 1);
    double lo = value_at(uint64_t(std::floor(pos))), hi = value_at(uint64_t(std::ceil(pos)));
    out.push_back(lo + (hi - lo) * (pos - std::floor(pos)));
  }
  return out;
}

}  // namespace

Moments compute_stats(const StoredMatrix& s, const std::vector<double>& q, std::vector<double>& percentiles) {
  if (!q.empty() && countable(s)) {  // one counting pass answers both
    CodeCounts cc = code_counts(s);
    Moments m = moments_from_counts(cc);
    percentiles = percentiles_from_counts(cc, q, m.finite);
    return m;
  }
  Moments m = compute_moments(s);
  percentiles = q.empty() ? std::vector<double>{} : compute_percentiles(s, q, m.finite);
  return m;
}

std::vector<double> compute_percentiles(const StoredMatrix& s, const std::vector<double>& q, uint64_t finite) {
  std::vector<double> out(q.size(), NAN);
  if (finite == 0) return out;
  if (countable(s)) return percentiles_from_counts(code_counts(s), q, finite);
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

Histogram compute_histogram(const StoredMatrix& s, size_t bins, double lo, double hi, bool log_bins) {
  NL_CHECK(bins > 0, "histogram needs at least one bin");
  // 8/16-bit tensors: one counting pass gives the range (when not given) and the bins.
  std::unique_ptr<CodeCounts> cc;
  if (countable(s)) cc = std::make_unique<CodeCounts>(code_counts(s));
  if (std::isnan(lo) || std::isnan(hi)) {
    Moments m = cc ? moments_from_counts(*cc) : compute_moments(s);
    if (m.finite == 0) { lo = log_bins ? 1 : 0; hi = lo; }
    else if (log_bins) { lo = std::isfinite(m.min_abs_nonzero) ? m.min_abs_nonzero : 1; hi = std::max(m.absmax, lo); }
    else { lo = m.min; hi = m.max; }
  }
  NL_CHECK(hi >= lo, "histogram range must have hi >= lo");
  NL_CHECK(!log_bins || lo > 0, "log bins need lo > 0");
  Histogram h;
  h.edges.resize(bins + 1);
  const double a = log_bins ? std::log(lo) : lo, b = log_bins ? std::log(hi) : hi;
  for (size_t i = 0; i <= bins; i++) {
    double e = a + (b - a) * double(i) / double(bins);
    h.edges[i] = log_bins ? std::exp(e) : e;
  }
  h.edges[0] = lo; h.edges[bins] = hi;
  const double inv_width = b > a ? double(bins) / (b - a) : 0.0;
  // Slot 0 counts values below the range, slot bins+1 above; each value lands in
  // [edges[k], edges[k+1]) (the last bin includes hi), edges guarding float rounding.
  auto slot = [&](double v) -> size_t {
    if (log_bins) v = std::fabs(v);
    if (v < lo) return 0;
    if (v > hi) return bins + 1;
    double p = log_bins ? std::log(v) : v;
    size_t k = size_t((p - a) * inv_width);
    if (k >= bins) k = bins - 1;
    while (k > 0 && v < h.edges[k]) k--;
    while (k + 1 < bins && v >= h.edges[k + 1]) k++;
    return k + 1;
  };
  std::vector<uint64_t> total(bins + 2, 0);
  if (cc) {
    for (size_t c = 0; c < cc->counts.size(); c++)
      if (cc->counts[c] && std::isfinite(cc->values[c])) total[slot(cc->values[c])] += cc->counts[c];
  } else {
    int T = num_threads();
    std::vector<std::vector<uint64_t>> counts(T, std::vector<uint64_t>(bins + 2, 0));
    for_each_span(s, [&](int t, const float* x, size_t m) {
      uint64_t* c = counts[t].data();
      for (size_t i = 0; i < m; i++)
        if (std::fabs(x[i]) <= FLT_MAX) c[slot(x[i])]++;
    }, T);
    for (auto& c : counts)
      for (size_t k = 0; k < bins + 2; k++) total[k] += c[k];
  }
  h.below = total[0];
  h.above = total[bins + 1];
  h.counts.assign(total.begin() + 1, total.end() - 1);
  return h;
}

}  // namespace nl
