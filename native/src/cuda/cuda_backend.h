// The CUDA implementation of the backend interface (backend.cu). Only compiled, and only
// referenced (under NL_WITH_CUDA), where a CUDA toolkit exists. (Named cuda_backend.h so
// that "backend.h" from this folder still finds the interface.)
#pragma once
#include "../backend.h"

namespace nl {
// The process-wide CUDA backend on device 0; callers first check cuda_info().devices > 0.
Backend& cuda_backend();
}  // namespace nl
