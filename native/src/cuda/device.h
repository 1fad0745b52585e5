// CUDA device discovery; safe to call on machines without a GPU or driver.
#pragma once
#include <string>

namespace nl {
struct CudaInfo {
  int devices = 0;
  std::string name;
  std::string error;
};
CudaInfo cuda_info();
}  // namespace nl
