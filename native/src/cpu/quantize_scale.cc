// The FP8 quantizer's scale choice (see quantize_internal.h): per-block amax, percentile
// scales from each block's largest values (TopValues), and the search over clipping ratios.
#include "cpu/quantize_internal.h"

namespace nl {
namespace quant {

namespace {

// Candidate clipping values of the search: ratio 1 first, down to min_ratio.
std::vector<float> search_scales(float amax, const QuantParams& p) {
  std::vector<float> out(std::max(1, p.search_steps));
  for (size_t k = 0; k < out.size(); k++) {
    double ratio = out.size() == 1 ? 1.0 : 1.0 - (1.0 - p.search_min_ratio) * double(k) / double(out.size() - 1);
    out[k] = scale_of(float(double(amax) * ratio), p.format);
  }
  return out;
}

// Max finite |x| of each 64-value chunk, and the count of finite values (vectorised).
NL_SIMD_CLONES void chunk_max64(const float* x, size_t nchunks, float* mx, uint32_t* finite) {
  uint32_t fin = 0;
  for (size_t c = 0; c < nchunks; c++) {
    float am[16] = {};
    uint32_t nf[16] = {};
    for (int g = 0; g < 4; g++) {
      for (int j = 0; j < 16; j++) {
        float a = std::fabs(x[64 * c + 16 * g + j]);
        bool ok = a <= FLT_MAX;
        am[j] = std::max(am[j], ok ? a : 0.0f);
        nf[j] += ok;
      }
    }
    float r = 0;
    for (int j = 0; j < 16; j++) { r = std::max(r, am[j]); fin += nf[j]; }
    mx[c] = r;
  }
  *finite += fin;
}

// The largest values of a block, for a high percentile without keeping (and selecting
// in) a copy of the whole block: every |x| at or above a threshold is kept; when the
// buffer holds 2k + 64 values it is cut back to the k largest (ties kept) and the
// threshold raised to the k-th largest. What stays is always every value of the block
// at or above the threshold, i.e. the top m >= min(k, n) of the multiset, so the
// percentile's two order statistics are read from it when they lie in that top
// (rank_need() sizes k so that they do); otherwise the caller takes the full path.
struct TopValues {
  std::vector<float> v;
  float thr = 0.0f;    // keep a >= thr (0 keeps everything, zeros included)
  size_t k = 0;
  uint64_t finite = 0;
  void reset(size_t keep) { v.clear(); thr = 0.0f; k = keep; finite = 0; }
  void push(const float* x, size_t m) {  // m <= kSpan
    float mx[kSpan / 64];
    size_t nc = m / 64;
    uint32_t fin = 0;
    chunk_max64(x, nc, mx, &fin);  // most chunks hold nothing at or above thr: skipped
    finite += fin;
    for (size_t c = 0; c < nc; c++)
      if (mx[c] >= thr) add(x + 64 * c, 64, false);
    add(x + 64 * nc, m - 64 * nc, true);
  }
  void add(const float* x, size_t m, bool count) {
    for (size_t i = 0; i < m; i++) {
      float a = std::fabs(x[i]);
      if (!(a <= FLT_MAX)) continue;
      finite += count;
      if (a >= thr) v.push_back(a);
    }
    if (v.size() >= 2 * k + 64) prune();
  }
  void prune() {
    if (v.size() <= k) return;
    std::nth_element(v.begin(), v.begin() + (v.size() - k), v.end());
    thr = v[v.size() - k];
    v.erase(std::remove_if(v.begin(), v.end(), [&](float a) { return a < thr; }), v.end());
  }
  void merge(const TopValues& o) {
    v.insert(v.end(), o.v.begin(), o.v.end());
    finite += o.finite;
    // the union holds every value >= max of the two thresholds
    thr = std::max(thr, o.thr);
    v.erase(std::remove_if(v.begin(), v.end(), [&](float a) { return a < thr; }), v.end());
  }
};

// How many of the largest values the q-th percentile of n values reads (with slack for
// fewer finite values than n), or 0 when that is most of the block (take the full path).
size_t rank_need(size_t n, double q) {
  if (n < 2) return 0;
  float pos = float(q / 100.0) * float(n - 1);
  size_t lo = size_t(std::floor(pos));
  size_t need = n - std::min(n, lo) + 4;
  return need * 4 > n ? 0 : need;
}

// percentile_of (same float arithmetic) from a TopValues holding the top of `finite` values;
// false when the order statistics it needs are below what it holds.
bool percentile_of_top(TopValues& t, double q, float* out) {
  size_t n = t.finite;
  if (n == 0) { *out = 0.0f; return true; }
  float qf = float(q / 100.0);
  float pos = qf * float(n - 1);
  size_t lo = size_t(std::floor(pos)), hi = std::min(n - 1, size_t(std::ceil(pos)));
  float w = pos - float(lo);
  if (t.v.size() > n) return false;
  size_t off = n - t.v.size();  // t.v holds ranks [off, n) once sorted
  if (lo < off) return false;
  std::sort(t.v.begin(), t.v.end());
  float a = t.v[lo - off], b = t.v[hi - off];
  float diff = b - a;
  *out = w < 0.5f ? std::fma(w, diff, a) : std::fma(-diff, 1.0f - w, b);
  return true;
}

}  // namespace

// Per-block amax (finite values), multi-threaded; adds the non-finite count.
std::vector<float> block_amax(const StoredMatrix& s, const QuantParams& p, uint64_t* nonfinite) {
  size_t gc = grid_cols(s, p), nb = grid_rows(s, p) * gc;
  int T = num_threads();
  std::vector<std::vector<float>> local(T, std::vector<float>(nb, 0.0f));
  std::vector<uint64_t> nf(T * 8, 0);
  parallel_chunks(s.rows, std::max<size_t>(1, kGrainElems / std::max<size_t>(1, size_t(s.cols))), [&](int t, size_t rb, size_t re) {
    alignas(64) float buf[kSpan];
    uint32_t bad = 0;
    float* am = local[t].data();
    for (size_t r = rb; r < re; r++) {
      float* row_am = am + (r / p.block_rows) * gc;
      for (size_t c0 = 0; c0 < size_t(s.cols);) {
        size_t m = std::min({kSpan, size_t(s.cols) - c0, p.block_cols - c0 % p.block_cols});
#if NL_X86
        float v = direct_source(s) ? amax_direct(s, r * size_t(s.cols) + c0, m, &bad) : span_amax(read_span(s, r, c0, m, buf), m, &bad);
#else
        float v = span_amax(read_span(s, r, c0, m, buf), m, &bad);
#endif
        float& slot = row_am[c0 / p.block_cols];
        slot = std::max(slot, v);
        c0 += m;
      }
    }
    nf[t * 8] += bad;
  });
  std::vector<float> out(nb, 0.0f);
  for (int t = 0; t < T; t++) {
    for (size_t b = 0; b < nb; b++) out[b] = std::max(out[b], local[t][b]);
    *nonfinite += nf[t * 8];
  }
  return out;
}

// Visits every span of block b: fn(values, count).
template <class Fn>
void for_block_spans(const StoredMatrix& s, const QuantParams& p, size_t b, float* buf, Fn&& fn) {
  size_t gc = grid_cols(s, p);
  size_t r0 = (b / gc) * p.block_rows, r1 = std::min(size_t(s.rows), r0 + p.block_rows);
  size_t c0 = (b % gc) * p.block_cols, c1 = std::min(size_t(s.cols), c0 + p.block_cols);
  for (size_t r = r0; r < r1; r++) {
    for (size_t c = c0; c < c1;) {
      size_t m = std::min(kSpan, c1 - c);
      fn(read_span(s, r, c, m, buf), m);
      c += m;
    }
  }
}

// Sum of squared errors of each candidate scale over one span.
void candidate_errors(const float* x, size_t m, const std::vector<float>& scales, Fp8Format f, double* err, uint8_t* codes) {
#if NL_X86
  if (cpu_has_avx512vbmi()) return candidate_errors_avx512(x, m, scales, f, err);
#endif
  const float* table = fp8_decode_table(f);
  for (size_t k = 0; k < scales.size(); k++) {
    float sc = scales[k];
    encode_span(f, x, m, sc, codes);
    double e = 0;
    for (size_t i = 0; i < m; i++) {
      if (!(std::fabs(x[i]) <= FLT_MAX)) continue;
      double d = double(table[codes[i]] * sc) - double(x[i]);
      e += d * d;
    }
    err[k] += e;
  }
}

size_t argmin_first(const double* err, size_t n) {
  size_t best = 0;
  for (size_t k = 1; k < n; k++) if (err[k] < err[best]) best = k;
  return best;
}

void choose_scales(const StoredMatrix& s, const QuantParams& p, const std::vector<float>& amax, float* scales) {
  size_t nb = amax.size();
  int T = num_threads();
  if (p.mode == ScaleMode::Amax) {
    for (size_t b = 0; b < nb; b++) scales[b] = scale_of(amax[b], p.format);
  } else if (p.mode == ScaleMode::Percentile) {
    // The full path: a copy of the block's finite |x|, nth_element (low percentiles, or
    // when the top did not reach far enough).
    auto full = [&](size_t b, float* buf) {
      std::vector<float> v;
      for_block_spans(s, p, b, buf, [&](const float* x, size_t m) {
        for (size_t i = 0; i < m; i++) { float a = std::fabs(x[i]); if (a <= FLT_MAX) v.push_back(a); }
      });
      scales[b] = scale_of(percentile_of(v, p.percentile, false), p.format);
    };
    size_t gc = grid_cols(s, p);
    auto block_elems = [&](size_t b) {
      size_t r0 = (b / gc) * p.block_rows, c0 = (b % gc) * p.block_cols;
      return (std::min(size_t(s.rows), r0 + p.block_rows) - r0) * (std::min(size_t(s.cols), c0 + p.block_cols) - c0);
    };
    if (nb >= size_t(4 * T)) {  // many blocks: a block per work item
      parallel_chunks(nb, 1, [&](int, size_t bb, size_t be) {
        alignas(64) float buf[kSpan];
        TopValues top;
        for (size_t b = bb; b < be; b++) {
          size_t need = rank_need(block_elems(b), p.percentile);
          if (need == 0) { full(b, buf); continue; }
          top.reset(need);
          for_block_spans(s, p, b, buf, [&](const float* x, size_t m) { top.push(x, m); });
          float clip;
          if (percentile_of_top(top, p.percentile, &clip)) scales[b] = scale_of(clip, p.format);
          else full(b, buf);
        }
      });
    } else {  // few big blocks: rows split across threads, the tops merged per block
      std::vector<std::vector<TopValues>> tops(T, std::vector<TopValues>(nb));
      std::vector<size_t> need(nb);
      for (size_t b = 0; b < nb; b++) {
        need[b] = rank_need(block_elems(b), p.percentile);
        for (int t = 0; t < T; t++) tops[t][b].reset(need[b] ? need[b] : SIZE_MAX / 4);
      }
      parallel_chunks(s.rows, std::max<size_t>(1, kGrainElems / std::max<size_t>(1, size_t(s.cols))), [&](int t, size_t rb, size_t re) {
        alignas(64) float buf[kSpan];
        for (size_t r = rb; r < re; r++) {
          for (size_t c0 = 0; c0 < size_t(s.cols);) {
            size_t m = std::min({kSpan, size_t(s.cols) - c0, p.block_cols - c0 % p.block_cols});
            tops[t][(r / p.block_rows) * gc + c0 / p.block_cols].push(read_span(s, r, c0, m, buf), m);
            c0 += m;
          }
        }
      });
      parallel_chunks(nb, 1, [&](int, size_t bb, size_t be) {
        alignas(64) float buf[kSpan];
        for (size_t b = bb; b < be; b++) {
          TopValues& top = tops[0][b];
          for (int t = 1; t < T; t++) { top.merge(tops[t][b]); std::vector<float>().swap(tops[t][b].v); }
          float clip;
          if (percentile_of_top(top, p.percentile, &clip)) scales[b] = scale_of(clip, p.format);
          else full(b, buf);
        }
      });
    }
  } else if (p.mode == ScaleMode::Search) {
    size_t steps = size_t(std::max(1, p.search_steps));
    if (nb >= size_t(4 * T)) {  // many blocks: a block per work item
      parallel_chunks(nb, 1, [&](int, size_t bb, size_t be) {
        alignas(64) float buf[kSpan];
        alignas(64) uint8_t codes[kSpan];
        std::vector<double> err(steps);
        for (size_t b = bb; b < be; b++) {
          std::vector<float> cand = search_scales(amax[b], p);
          std::fill(err.begin(), err.end(), 0.0);
          for_block_spans(s, p, b, buf, [&](const float* x, size_t m) { candidate_errors(x, m, cand, p.format, err.data(), codes); });
          scales[b] = cand[argmin_first(err.data(), steps)];
        }
      });
    } else {  // few big blocks: split rows across threads, per-thread error tables
      size_t gc = grid_cols(s, p);
      std::vector<std::vector<float>> cand(nb);
      for (size_t b = 0; b < nb; b++) cand[b] = search_scales(amax[b], p);
      std::vector<std::vector<double>> err(T, std::vector<double>(nb * steps, 0.0));
      parallel_chunks(s.rows, std::max<size_t>(1, kGrainElems / std::max<size_t>(1, size_t(s.cols))), [&](int t, size_t rb, size_t re) {
        alignas(64) float buf[kSpan];
        alignas(64) uint8_t codes[kSpan];
        for (size_t r = rb; r < re; r++) {
          for (size_t c0 = 0; c0 < size_t(s.cols);) {
            size_t m = std::min({kSpan, size_t(s.cols) - c0, p.block_cols - c0 % p.block_cols});
            size_t b = (r / p.block_rows) * gc + c0 / p.block_cols;
            candidate_errors(read_span(s, r, c0, m, buf), m, cand[b], p.format, err[t].data() + b * steps, codes);
            c0 += m;
          }
        }
      });
      for (size_t b = 0; b < nb; b++) {
        std::vector<double> total(steps, 0.0);
        for (int t = 0; t < T; t++) for (size_t k = 0; k < steps; k++) total[k] += err[t][b * steps + k];
        scales[b] = cand[b][argmin_first(total.data(), steps)];
      }
    }
  }
}


}  // namespace quant
}  // namespace nl
