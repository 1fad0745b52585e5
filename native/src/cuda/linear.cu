// linear: y (T, rows) = x (T, cols) · Wᵀ (+ bias), with W stored as F32/BF16/F16/FP8
// E4M3/E5M2 and an optional fp32 scale per (br, bc) block, converted to fp32 in registers
// as it is read (never widened in memory); fp32 accumulation.
//   decode (T <= 8): matvec, one warp per weight row reading the row once for all T
//     tokens, 8 consecutive elements per lane per step (16-byte loads for BF16/F16);
//   prefill (T > 8): a tiled SGEMM, 64 tokens x 64 rows per block of 256 threads, each
//     thread 4x4 outputs, weights converted (and scaled) into shared memory per 16-column step.
// The tensor-core version is later work; the device check (native/dev/cuda-check.sh) times both.
#include "cuda/kernels.h"

namespace nl {
namespace cuda {

namespace {

constexpr int kMaxT = 8;        // matvec up to this many tokens
constexpr int kWarps = 4;       // matvec rows per block

// 8 consecutive stored elements at element index i (16-byte aligned for 2-byte types).
template <int D>
__device__ __forceinline__ void load8(const uint8_t* data, int64_t i, float* o) {
  if constexpr (D == kF32) {
    const float4* p = reinterpret_cast<const float4*>(data + i * 4);
    float4 a = p[0], b = p[1];
    o[0] = a.x; o[1] = a.y; o[2] = a.z; o[3] = a.w; o[4] = b.x; o[5] = b.y; o[6] = b.z; o[7] = b.w;
  } else if constexpr (D == kBF16 || D == kF16) {
    uint4 u = *reinterpret_cast<const uint4*>(data + i * 2);
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const uint16_t lo = uint16_t(w[j] & 0xffffu), hi = uint16_t(w[j] >> 16);
      o[2 * j] = D == kBF16 ? bf16_f32(lo) : f16_f32(lo);
      o[2 * j + 1] = D == kBF16 ? bf16_f32(hi) : f16_f32(hi);
    }
  } else {
    uint2 u = *reinterpret_cast<const uint2*>(data + i);
    const uint32_t w[2] = {u.x, u.y};
#pragma unroll
    for (int j = 0; j < 8; j++) {
      const uint8_t c = uint8_t(w[j / 4] >> (8 * (j % 4)));
      o[j] = D == kE4M3 ? e4m3_f32(c) : e5m2_f32(c);
    }
  }
}

// x (T, cols), y (T, rows); one warp per row r.
template <int D>
__global__ void matvec_kernel(const float* __restrict__ x, int T, StoredMatrix w, const float* __restrict__ bias,
                              float* __restrict__ y, bool vec) {
  const int64_t r = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= w.rows) return;
  const int64_t cols = w.cols, base = r * cols;
  const float* srow = w.scale ? w.scale_row(r) : nullptr;
  const bool row_scale = srow && w.block_cols >= cols;  // one factor for the whole row: applied to the sum
  float acc[kMaxT];
#pragma unroll
  for (int t = 0; t < kMaxT; t++) acc[t] = 0.0f;
  if (vec) {
    for (int64_t c = int64_t(lane) * 8; c < cols; c += 256) {
      float wv[8];
      load8<D>(w.data, base + c, wv);
      if (srow && !row_scale) {
#pragma unroll
        for (int j = 0; j < 8; j++) wv[j] *= srow[(c + j) / w.block_cols];
      }
#pragma unroll
      for (int t = 0; t < kMaxT; t++) {
        if (t < T) {
          const float4* xp = reinterpret_cast<const float4*>(x + t * cols + c);
          float4 a = xp[0], b = xp[1];
          acc[t] += wv[0] * a.x + wv[1] * a.y + wv[2] * a.z + wv[3] * a.w + wv[4] * b.x + wv[5] * b.y + wv[6] * b.z +
                    wv[7] * b.w;
        }
      }
    }
  } else {
    for (int64_t c = lane; c < cols; c += 32) {
      float wv = elem<D>(w.data, base + c);
      if (srow && !row_scale) wv *= srow[c / w.block_cols];
#pragma unroll
      for (int t = 0; t < kMaxT; t++)
        if (t < T) acc[t] += wv * x[t * cols + c];
    }
  }
#pragma unroll
  for (int t = 0; t < kMaxT; t++) {
    if (t < T) {
      float s = warp_sum(acc[t]);
      if (lane == 0) {
        if (row_scale) s *= srow[0];
        y[int64_t(t) * w.rows + r] = s + (bias ? bias[r] : 0.0f);
      }
    }
  }
}

constexpr int BM = 64, BN = 64, BK = 16;

// x (T, cols), y (T, rows); block (rows/64, T/64), 256 threads of 4x4 outputs.
template <int D>
__global__ void __launch_bounds__(256) gemm_kernel(const float* __restrict__ x, int64_t T, StoredMatrix w,
                                                   const float* __restrict__ bias, float* __restrict__ y) {
  __shared__ float xs[BK][BM + 4];
  __shared__ float ws[BK][BN + 4];
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int64_t r0 = int64_t(blockIdx.x) * BN, t0 = int64_t(blockIdx.y) * BM, cols = w.cols;
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < cols; k0 += BK) {
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int idx = tid + i * 256, kk = idx % BK, mm = idx / BK;
      const int64_t k = k0 + kk, t = t0 + mm, r = r0 + mm;
      xs[kk][mm] = (t < T && k < cols) ? x[t * cols + k] : 0.0f;
      float v = 0.0f;
      if (r < w.rows && k < cols) {
        v = elem<D>(w.data, r * cols + k);
        if (w.scale) v *= w.scale_row(r)[k / w.block_cols];
      }
      ws[kk][mm] = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; kk++) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; i++) { a[i] = xs[kk][ty * 4 + i]; b[i] = ws[kk][tx * 4 + i]; }
#pragma unroll
      for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const int64_t t = t0 + ty * 4 + i;
    if (t >= T) continue;
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int64_t r = r0 + tx * 4 + j;
      if (r < w.rows) y[t * w.rows + r] = acc[i][j] + (bias ? bias[r] : 0.0f);
    }
  }
}

template <int D>
void launch(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y, cudaStream_t s) {
  if (T <= kMaxT) {
    // 8-element vector loads need 8 | cols and aligned bases (all Nano-9B widths are multiples of 8).
    const bool vec = w.cols % 8 == 0 && uintptr_t(w.data) % 16 == 0 && uintptr_t(x) % 16 == 0;
    matvec_kernel<D><<<blocks_for(w.rows, kWarps), kWarps * 32, 0, s>>>(x, int(T), w, bias, y, vec);
  } else {
    dim3 grid(blocks_for(w.rows, BN), blocks_for(T, BM));
    gemm_kernel<D><<<grid, 256, 0, s>>>(x, T, w, bias, y);
  }
  CUDA_LAUNCHED();
}

}  // namespace

void linear(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y, cudaStream_t s) {
  NL_CHECK(T <= 65535 * int64_t(BM), "cuda linear: too many tokens in one call");
  switch (int(w.dtype)) {
    case kF32: return launch<kF32>(x, T, w, bias, y, s);
    case kBF16: return launch<kBF16>(x, T, w, bias, y, s);
    case kF16: return launch<kF16>(x, T, w, bias, y, s);
    case kE4M3: return launch<kE4M3>(x, T, w, bias, y, s);
    case kE5M2: return launch<kE5M2>(x, T, w, bias, y, s);
    default: NL_CHECK(false, "cuda linear: weights must be F32, BF16, F16, F8_E4M3 or F8_E5M2");
  }
}

}  // namespace cuda
}  // namespace nl
