// The static CUDA runtime opens libcuda lazily: with no driver this reports an error
// string instead of failing to load the addon.
#include <cuda_runtime.h>

#include "cuda/device.h"

namespace nl {
CudaInfo cuda_info() {
  CudaInfo r;
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    r.error = cudaGetErrorString(e);
    return r;
  }
  r.devices = n;
  if (n > 0) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) r.name = p.name;
  }
  return r;
}
}  // namespace nl
