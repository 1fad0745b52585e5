// Read-only memory mapping of a whole file. Pages are read on first touch, so mapping a
// 10 GB checkpoint costs nothing until tensors are used. read_ahead() pays that first touch on
// a background thread instead (madvise MADV_POPULATE_READ, front to back): a model's first
// pass then finds its weights read and mapped, without a page fault per few pages.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

namespace nl {

struct MappedFile {
  uint8_t* data = nullptr;
  size_t size = 0;
  void* handle = nullptr;  // Windows mapping handle
  static MappedFile* open(const std::string& path);
  ~MappedFile();
  // Starts the background read-ahead (once; later calls do nothing). It stops early when the
  // mapping is closed.
  void read_ahead();
  // Bytes the read-ahead has covered (size once it is done; 0 when it never started).
  size_t read_ahead_done() const { return ra_done.load(std::memory_order_relaxed); }

 private:
  std::thread ra_thread;
  std::atomic<bool> ra_stop{false};
  std::atomic<size_t> ra_done{0};
  bool ra_started = false;
};

}  // namespace nl
