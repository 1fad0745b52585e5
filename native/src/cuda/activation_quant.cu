// Activation fake quantization on the device (backend.h; the CPU reference is
// cpu/activation_quant.cc):
//   amax:           max |x| over n values, NaN and infinities skipped
//   fake_quant_fp8: y (T, n) = decode(encode(x / s)) · s, s static or each row's max|x| / fmax
// The encoders repeat fp8.h's bit arithmetic (round to nearest even, saturating), so the
// device gives the CPU's codes; decoding uses common.cuh's exact decoders.
#include "cuda/kernels.h"

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
__global__ void fake_quant_kernel(const float* x, int64_t n, bool dynamic, float scale, float* y) {
  const float* xr = x + int64_t(blockIdx.x) * n;
  float* yr = y + int64_t(blockIdx.x) * n;
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
__global__ void amax_kernel(const float* x, int64_t n, unsigned* out) {
  float a = 0.0f;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    if (isfinite(x[i])) a = fmaxf(a, fabsf(x[i]));
  a = block_max(a);
  if (threadIdx.x == 0) atomicMax(out, __float_as_uint(a));
}

}  // namespace

void amax(const float* x, int64_t n, unsigned* out, cudaStream_t s) {
  CUDA_CHECK(cudaMemsetAsync(out, 0, sizeof(unsigned), s));
  if (n == 0) return;
  amax_kernel<<<unsigned(std::min<int64_t>((n + 255) / 256, 1024)), 256, 0, s>>>(x, n, out);
  CUDA_LAUNCHED();
}

void fake_quant_fp8(const float* x, int64_t T, int64_t n, Fp8Format f, bool dynamic, float scale, float* y, cudaStream_t s) {
  if (T == 0 || n == 0) return;
  if (f == Fp8Format::E4M3) fake_quant_kernel<true><<<unsigned(T), 256, 0, s>>>(x, n, dynamic, scale, y);
  else fake_quant_kernel<false><<<unsigned(T), 256, 0, s>>>(x, n, dynamic, scale, y);
  CUDA_LAUNCHED();
}

}  // namespace cuda
}  // namespace nl
