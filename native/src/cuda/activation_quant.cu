// The precision what-ifs on the device (backend.h; the CPU reference is cpu/activation_quant.cc):
//   amax:           max |x| over T rows of n (row stride ld), NaN and infinities skipped
//   fake_quant_fp8: y (T, n) = decode(encode(x / s)) · s, s static or each row's max|x| / fmax
//   round_to:       x = fp32(bf16(x)) or fp32(f16(x)), nearest-even
//   to_bf16:        dst = bf16(x), common.h's bit rounding (nearest even, NaN kept quiet with
//                   its sign), so a BF16 KV cache holds the CPU backend's bits
// The encoders repeat fp8.h's bit arithmetic (round to nearest even, saturating), so the
// device gives the CPU's codes; decoding uses common.cuh's exact decoders.
#include <cuda_bf16.h>

#include "cuda/kernels.h"
#include "cuda/plan.h"

namespace nl {
namespace cuda {

namespace {

__device__ __forceinline__ uint8_t encode_e4m3(float x) {
  const uint32_t u = __float_as_uint(x);
  const uint8_t sign = uint8_t((u >> 24) & 0x80u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7fu;  // NaN
  if (a > 0x43e80000u) return sign | 0x7eu;  // saturate at 448
  if (a < 0x3c800000u) {                     // subnormal: quantum 2^-9, the add rounds to nearest even
    const float r = __fadd_rn(__uint_as_float(a), 16384.0f);
    return sign | uint8_t(__float_as_uint(r) - 0x46800000u);
  }
  a += 0xc4000000u + 0x7ffffu + ((a >> 20) & 1u);
  return sign | uint8_t(a >> 20);
}

__device__ __forceinline__ uint8_t encode_e5m2(float x) {
  const uint32_t u = __float_as_uint(x);
  const uint8_t sign = uint8_t((u >> 24) & 0x80u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7eu;  // NaN
  if (a >= 0x47700000u) return sign | 0x7bu; // saturate at 57344
  if (a < 0x38800000u) {                     // subnormal: quantum 2^-16
    const float r = __fadd_rn(__uint_as_float(a), 128.0f);
    return sign | uint8_t(__float_as_uint(r) - 0x43000000u);
  }
  a += 0xc8000000u + 0xfffffu + ((a >> 21) & 1u);
  return sign | uint8_t(a >> 21);
}

// Max over the block (blockDim.x a multiple of 32); every thread gets it. fmaxf drops NaN.
__device__ __forceinline__ float block_max(float v) {
  __shared__ float part[32];
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  float m = lane < nw ? part[lane] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
  return m;
}

// One block per row: the row's scale (dynamic) and then its values.
template <bool E4M3>
__global__ void fake_quant_kernel(const float* x, int64_t ld, int64_t n, bool dynamic, float scale, float* y, int64_t ldy) {
  const float* xr = x + int64_t(blockIdx.x) * ld;
  float* yr = y + int64_t(blockIdx.x) * ldy;
  float s = scale;
  if (dynamic) {
    float a = 0.0f;
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) a = fmaxf(a, fabsf(xr[c]));
    a = block_max(a);
    s = a > 0.0f && isfinite(a) ? a / (E4M3 ? 448.0f : 57344.0f) : 1.0f;
  }
  for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
    const float q = __fdiv_rn(xr[c], s);
    yr[c] = (E4M3 ? e4m3_f32(encode_e4m3(q)) : e5m2_f32(encode_e5m2(q))) * s;
  }
}

// Non-negative floats order as their bits, so atomicMax on the bits is a float max.
// One block per row (grid-stride over rows beyond the grid).
__global__ void amax_kernel(const float* x, int64_t ld, int64_t T, int64_t n, unsigned* out) {
  float a = 0.0f;
  for (int64_t t = blockIdx.x; t < T; t += gridDim.x)
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) {
      const float v = x[t * ld + c];
      if (isfinite(v)) a = fmaxf(a, fabsf(v));
    }
  a = block_max(a);
  if (threadIdx.x == 0) atomicMax(out, __float_as_uint(a));
}

template <bool BF16>
__global__ void round_to_kernel(float* x, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = BF16 ? __bfloat162float(__float2bfloat16_rn(x[i])) : __half2float(__float2half_rn(x[i]));
}

__global__ void to_bf16_kernel(const float* __restrict__ x, int64_t n, uint16_t* __restrict__ dst) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t u = __float_as_uint(x[i]);
    dst[i] = (u & 0x7fffffffu) > 0x7f800000u ? uint16_t((u >> 16) | 0x40u) : uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
}

}  // namespace

void amax(const float* x, int64_t ld, int64_t T, int64_t n, unsigned* out, cudaStream_t s) {
  CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(unsigned), s));
  if (T == 0 || n == 0) return;
  amax_kernel<<<unsigned(std::min<int64_t>(T, 1024)), 256, 0, s>>>(x, ld, T, n, out);
  CUDA_LAUNCHED();
}

void fake_quant_fp8(const float* x, int64_t ld, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale, float* y,
                    int64_t ldy, cudaStream_t s) {
  if (T == 0 || n == 0) return;
  if (f == Fp8Format::E4M3) fake_quant_kernel<true><<<unsigned(T), 256, 0, s>>>(x, ld, n, dynamic, scale, y, ldy);
  else fake_quant_kernel<false><<<unsigned(T), 256, 0, s>>>(x, ld, n, dynamic, scale, y, ldy);
  CUDA_LAUNCHED();
}

void round_to(float* x, int64_t n, bool bf16, cudaStream_t s) {
  if (n == 0) return;
  const unsigned grid = unsigned(std::min<int64_t>((n + 255) / 256, 65535));
  if (bf16) round_to_kernel<true><<<grid, 256, 0, s>>>(x, n);
  else round_to_kernel<false><<<grid, 256, 0, s>>>(x, n);
  CUDA_LAUNCHED();
}

void to_bf16(const float* x, int64_t n, uint16_t* dst, cudaStream_t s) {
  if (n == 0) return;
  const Launch p = to_bf16_plan(n);
  to_bf16_kernel<<<p.grid_x, p.threads, 0, s>>>(x, n, dst);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
