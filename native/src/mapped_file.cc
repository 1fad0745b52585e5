#include "mapped_file.h"

#include "common.h"

#include <algorithm>

#ifdef _WIN32
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#endif

namespace nl {

#ifdef _WIN32
MappedFile* MappedFile::open(const std::string& path) {
  HANDLE f = CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING, 0, nullptr);
  NL_CHECK(f != INVALID_HANDLE_VALUE, "cannot open " + path);
  LARGE_INTEGER sz;
  GetFileSizeEx(f, &sz);
  auto* m = new MappedFile();
  m->size = size_t(sz.QuadPart);
  if (m->size > 0) {
    HANDLE map = CreateFileMappingA(f, nullptr, PAGE_READONLY, 0, 0, nullptr);
    CloseHandle(f);
    NL_CHECK(map, "cannot map " + path);
    m->handle = map;
    m->data = static_cast<uint8_t*>(MapViewOfFile(map, FILE_MAP_READ, 0, 0, 0));
    NL_CHECK(m->data, "cannot map " + path);
  } else {
    CloseHandle(f);
  }
  return m;
}
MappedFile::~MappedFile() {
  if (data) UnmapViewOfFile(data);
  if (handle) CloseHandle(handle);
}
void MappedFile::read_ahead() { ra_done = size; }  // Windows: left to the OS's own read-ahead
#else
MappedFile* MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  NL_CHECK(fd >= 0, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) { ::close(fd); NL_CHECK(false, "cannot stat " + path); }
  auto* m = new MappedFile();
  m->size = size_t(st.st_size);
  if (m->size > 0) {
    void* p = mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    ::close(fd);
    if (p == MAP_FAILED) { delete m; NL_CHECK(false, "cannot map " + path + ": " + std::strerror(err)); }
    m->data = static_cast<uint8_t*>(p);
  } else {
    ::close(fd);
  }
  return m;
}
MappedFile::~MappedFile() {
  ra_stop = true;
  if (ra_thread.joinable()) ra_thread.join();
  if (data) munmap(data, size);
}

void MappedFile::read_ahead() {
  if (ra_started || !data) {
    if (!data) ra_done = size;
    return;
  }
  ra_started = true;
  ra_thread = std::thread([this] {
    // 4 MiB steps: each holds the mapping lock briefly (model setup mmaps meanwhile), and a
    // close waits for one step at most. MADV_POPULATE_READ (Linux 5.14+) reads
    // and maps a step in one call; a read of one byte per page then pays what a first access
    // still costs (measured here, in a VM: the first pass over populated pages ran at 2 GB/s,
    // after the touch at 3-5x that); without it, the touch alone faults the pages in.
    constexpr size_t kStep = size_t(4) << 20;
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
#ifdef MADV_POPULATE_READ
    bool populate = true;
#endif
    for (size_t off = 0; off < size && !ra_stop; off += kStep) {
      const size_t n = std::min(kStep, size - off);
      madvise(data + off, n, MADV_WILLNEED);
#ifdef MADV_POPULATE_READ
      if (populate && madvise(data + off, n, MADV_POPULATE_READ) != 0) populate = false;
#endif
      volatile uint8_t sink = 0;
      for (size_t i = 0; i < n; i += page) sink = sink + data[off + i];
      ra_done.store(off + n, std::memory_order_relaxed);
    }
  });
}
#endif

}  // namespace nl
