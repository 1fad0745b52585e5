// Shared device-side helpers of the CUDA kernels: the error check (throws nl::Error with
// file and line, never exits: a notebook kernel must survive a bad cell), stored-element
// conversion to fp32 (weights are StoredMatrix with device pointers), and warp/block sums.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "stored_matrix.h"

#define CUDA_CHECK(call)                                                                                  \
  do {                                                                                                    \
    cudaError_t e_ = (call);                                                                              \
    if (e_ != cudaSuccess)                                                                                \
      throw ::nl::Error(std::string("CUDA error: ") + cudaGetErrorString(e_) + " in " #call              \
                        " [" __FILE__ ":" NL_STR(__LINE__) "]");                                         \
  } while (0)
// After a launch: reports bad launch configurations at once (execution errors surface at sync).
#define CUDA_LAUNCHED() CUDA_CHECK(cudaGetLastError())

namespace nl {
namespace cuda {

constexpr int kF32 = int(DType::F32), kBF16 = int(DType::BF16), kF16 = int(DType::F16),
              kE4M3 = int(DType::F8_E4M3), kE5M2 = int(DType::F8_E5M2);

inline unsigned blocks_for(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

__device__ __forceinline__ float bf16_f32(uint16_t h) { return __uint_as_float(uint32_t(h) << 16); }
__device__ __forceinline__ float f16_f32(uint16_t h) { return __half2float(__ushort_as_half(h)); }
// E5M2 is the upper byte of an IEEE half: exact, inf and NaN included.
__device__ __forceinline__ float e5m2_f32(uint8_t c) { return __half2float(__ushort_as_half(uint16_t(c) << 8)); }
// E4M3 (e4m3fn): bias 7, subnormals m·2^-9, S.1111.111 is NaN, no infinity.
__device__ __forceinline__ float e4m3_f32(uint8_t c) {
  const uint32_t e = (c >> 3) & 15u, m = c & 7u, s = uint32_t(c & 0x80u) << 24;
  if (e == 15u && m == 7u) return __uint_as_float(s | 0x7fc00000u);
  float v = e ? __uint_as_float(((e + 120u) << 23) | (m << 20)) : float(m) * 0.001953125f;
  return __uint_as_float(__float_as_uint(v) | s);
}

template <int D>
__device__ __forceinline__ float elem(const uint8_t* data, int64_t i) {
  if constexpr (D == kF32) return reinterpret_cast<const float*>(data)[i];
  else if constexpr (D == kBF16) return bf16_f32(reinterpret_cast<const uint16_t*>(data)[i]);
  else if constexpr (D == kF16) return f16_f32(reinterpret_cast<const uint16_t*>(data)[i]);
  else if constexpr (D == kE4M3) return e4m3_f32(data[i]);
  else return e5m2_f32(data[i]);
}

// Runtime dtype (uniform across a launch): for kernels that are not bandwidth-critical.
__device__ __forceinline__ float elem_any(const uint8_t* data, int dtype, int64_t i) {
  switch (dtype) {
    case kF32: return elem<kF32>(data, i);
    case kBF16: return elem<kBF16>(data, i);
    case kF16: return elem<kF16>(data, i);
    case kE4M3: return elem<kE4M3>(data, i);
    default: return elem<kE5M2>(data, i);
  }
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets it.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float part[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  float s = lane < nw ? part[lane] : 0.0f;
  return warp_sum(s);
}

__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

}  // namespace cuda
}  // namespace nl
