// Persistent pool: workers sleep on a condition variable between jobs, so a kernel
// launch costs a wake-up, not a thread creation (matters for per-token decode ops).
#include "thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#ifndef NL_SPIN_US
#define NL_SPIN_US 50
#endif

namespace nl {
namespace {

inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Polls `ready()` for up to NL_SPIN_US before the caller falls back to its futex wait. A
// decode step is dozens of jobs with gaps of a few to tens of µs between them (single-thread
// ops, the JS call per token); a worker that has gone to sleep costs a futex wake-up, and
// those are slow on VMs (a syscall and an IPI). Measured on the 45M model, 2 threads:
// 5 µs -> 50 µs took decode from 300-320 to 380-390 tok/s (BF16) and 380-405 to 500-515
// (FP8); 200 and 1000 µs gave no more. Next to two busy processes 30 µs still doubled
// decode (64 -> 126 tok/s): pause-spinning, unlike sched_yield loops, does not lose the
// scheduler's wake-up preference.
template <class F>
void spin_until(F ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(NL_SPIN_US);
  for (int i = 1; !ready(); i++) {
    spin_pause();
    if (i % 16 == 0 && std::chrono::steady_clock::now() > deadline) return;
  }
}

struct Pool {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable wake, done;
  const std::function<void(int)>* job = nullptr;
  uint64_t generation = 0;
  int pending = 0;
  bool stop = false;
  std::exception_ptr error;
  std::atomic<uint64_t> published{0};  // generation, readable without the lock (spin phase)
  std::atomic<int> left{0};            // workers still running the current job

  explicit Pool(int n) {
    for (int t = 1; t < n; t++) workers.emplace_back([this, t] { loop(t); });
  }
  ~Pool() {
    { std::lock_guard<std::mutex> g(mu); stop = true; }
    wake.notify_all();
    for (auto& w : workers) w.join();
  }
  int size() const { return int(workers.size()) + 1; }

  void loop(int t) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* j;
      // Decode issues dozens of small jobs per token back to back: spin briefly before
      // sleeping, so the next job rarely pays a futex wake-up.
      spin_until([&] { return published.load(std::memory_order_acquire) != seen; });
      {
        std::unique_lock<std::mutex> g(mu);
        wake.wait(g, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
        j = job;
      }
      run(*j, t);
      if (left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> g(mu);
        pending = 0;
        done.notify_one();
      }
    }
  }
  void run(const std::function<void(int)>& fn, int t) {
    try { fn(t); } catch (...) {
      std::lock_guard<std::mutex> g(mu);
      if (!error) error = std::current_exception();
    }
  }
  void dispatch(const std::function<void(int)>& fn) {
    if (workers.empty()) { fn(0); return; }
    {
      std::lock_guard<std::mutex> g(mu);
      job = &fn;
      pending = int(workers.size());
      left.store(int(workers.size()), std::memory_order_relaxed);
      error = nullptr;
      generation++;
      published.store(generation, std::memory_order_release);
    }
    wake.notify_all();
    run(fn, 0);
    spin_until([&] { return left.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> g(mu);
    done.wait(g, [&] { return pending == 0; });
    if (error) { auto e = error; error = nullptr; std::rethrow_exception(e); }
  }
};

int default_threads() {
  if (const char* env = std::getenv("NEMOTRON_LAB_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? int(hw) : 1;
}

std::mutex pool_mu;
Pool* pool = nullptr;

Pool& get_pool() {
  std::lock_guard<std::mutex> g(pool_mu);
  if (!pool) pool = new Pool(default_threads());
  return *pool;
}

}  // namespace

int num_threads() { return get_pool().size(); }

void set_num_threads(int n) {
  std::lock_guard<std::mutex> g(pool_mu);
  if (n <= 0) n = default_threads();
  if (pool && pool->size() == n) return;
  delete pool;
  pool = new Pool(n);
}

void parallel_threads(const std::function<void(int)>& fn) { get_pool().dispatch(fn); }

void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t)>& fn) {
  if (n == 0) return;
  if (grain == 0) grain = 1;
  size_t chunks = (n + grain - 1) / grain;
  Pool& p = get_pool();
  if (chunks == 1 || p.size() == 1) { fn(0, n); return; }
  std::atomic<size_t> next{0};
  p.dispatch([&](int) {
    for (;;) {
      size_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      size_t b = c * grain, e = b + grain < n ? b + grain : n;
      fn(b, e);
    }
  });
}

}  // namespace nl
