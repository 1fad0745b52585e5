// Read-only memory mapping of a whole file. Pages are read on first touch, so mapping a
// 10 GB checkpoint costs nothing until tensors are used.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nl {

struct MappedFile {
  uint8_t* data = nullptr;
  size_t size = 0;
  void* handle = nullptr;  // Windows mapping handle
  static MappedFile* open(const std::string& path);
  ~MappedFile();
};

}  // namespace nl
