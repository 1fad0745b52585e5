// Tensor statistics over any dtype, multi-threaded and streaming: moments in one pass,
// exact percentiles by a radix select over sortable float keys (two more passes, only
// when asked), and histograms with linear or logarithmic bins.
#pragma once
#include <vector>

#include "stored_matrix.h"

namespace nl {

struct Moments {
  double sum = 0, sumsq = 0, min = INFINITY, max = -INFINITY, absmax = 0, min_abs_nonzero = INFINITY;
  uint64_t finite = 0, zeros = 0, nan = 0, pos_inf = 0, neg_inf = 0;
};

Moments compute_moments(const StoredMatrix& s);

// Moments and the percentiles q (empty: none) together: one counting pass for 8/16-bit dtypes.
Moments compute_stats(const StoredMatrix& s, const std::vector<double>& q, std::vector<double>& percentiles);

// Exact percentiles (numpy's "linear" interpolation) of the finite values; q in [0, 100].
std::vector<double> compute_percentiles(const StoredMatrix& s, const std::vector<double>& q, uint64_t finite);

struct Histogram {
  std::vector<double> edges;     // bins + 1
  std::vector<uint64_t> counts;  // bins
  uint64_t below = 0, above = 0; // finite values outside the edges (log bins: |x| below lo counts as below)
};
// Linear bins over [lo, hi] of x, or log bins over [lo, hi] of |x| (lo > 0). A NaN lo or hi
// means the data's own range ([min, max]; log: [smallest non-zero |x|, max |x|]).
Histogram compute_histogram(const StoredMatrix& s, size_t bins, double lo, double hi, bool log_bins);

// Plain single-threaded reference of moments (doubles throughout), for tests.
Moments compute_moments_reference(const StoredMatrix& s);

}  // namespace nl
