// The sequential steps of the sample op's radix selections (backend.h's SampleArgs), shared by
// the CPU version (cpu/sample.cc's sample_fast) and the CUDA kernel (cuda/sample.cu): after a
// pass has counted the candidates' next byte into 256 bins, these pick the bin to refine.
// U is the bins' unsigned 64-bit type (uint64_t on the host, unsigned long long on the device).
#pragma once
#include <cstdint>

#include "stored_matrix.h"  // NL_HOST_DEVICE

namespace nl {

// Top-k: the bin holding the rem-th largest key (bins walked from the top); rem becomes the
// rank within that bin.
template <class U>
NL_HOST_DEVICE inline int kth_largest_bin(const U* hist, long long* rem) {
  int d = 255;
  for (; d > 0 && (long long)hist[d] < *rem; d--) *rem -= (long long)hist[d];
  return d;
}

// Top-p: the bin holding the nucleus bar, the largest probability whose mass at or above it
// reaches P (2^-60 fixed point); `above` (the mass of the higher bins so far) grows by the bins
// above the chosen one. If no bin reaches P (rounding left the whole mass under it), the
// lowest non-empty bin: the smallest probability is the bar.
template <class U>
NL_HOST_DEVICE inline int nucleus_bin(const U* count, const U* mass, U P, U* above) {
  int chosen = -1;
  for (int d = 255; d >= 0; d--) {
    if (!count[d]) continue;
    chosen = d;
    if (*above + mass[d] >= P) return d;
    *above += mass[d];
  }
  *above -= mass[chosen];
  return chosen;
}

// How many of the `ties` tokens at the bar (each of mass qt) sampling.ts's walk keeps: the first
// always (the mass above it is < P), each further one while the mass before it is < P.
template <class U>
NL_HOST_DEVICE inline U ties_kept(U above, U qt, U ties, U P) {
  U keep = 1;
  for (U m = above + qt; keep < ties && m < P; keep++) m += qt;
  return keep;
}

}  // namespace nl
