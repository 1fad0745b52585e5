// A small persistent thread pool. The calling thread takes part in the work, so a
// pool of n threads runs n-1 workers. Work is handed out in chunks from an atomic counter.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>

namespace nl {

int num_threads();
void set_num_threads(int n);  // 0 = hardware concurrency (or NEMOTRON_LAB_THREADS)

// Calls fn(begin, end) over [0, n) in chunks of `grain` items, on all threads; returns
// when every chunk is done. Exceptions thrown by fn are rethrown on the calling thread.
void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn);

// Calls fn(t) once for each thread t in [0, num_threads()).
void parallel_threads(const std::function<void(int)>& fn);

// Calls fn(t, begin, end) over [0, n) in chunks of `grain`, t = the calling thread's slot
// (for per-thread accumulators, as the quantizer's and the statistics' span walkers keep).
template <class Fn>
inline void parallel_chunks(size_t n, size_t grain, Fn&& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  const size_t chunks = (n + grain - 1) / grain;
  std::atomic<size_t> next{0};
  parallel_threads([&](int t) {
    for (;;) {
      const size_t c = next.fetch_add(1);
      if (c >= chunks) return;
      fn(t, c * grain, std::min(n, (c + 1) * grain));
    }
  });
}

}  // namespace nl
