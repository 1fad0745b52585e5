#include "mapped_file.h"

#include "common.h"

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
  if (data) munmap(data, size);
}
#endif

}  // namespace nl
