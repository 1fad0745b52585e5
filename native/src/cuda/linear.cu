// linear: y (T, rows) = x (T, cols) · Wᵀ (+ bias), with W stored as F32/BF16/F16/FP8
// E4M3/E5M2 and an optional fp32 scale per (br, bc) block, converted to fp32 in registers
// as it is read (never widened in memory); fp32 accumulation.
//   decode (T <= 8): matvec reading each weight row once for all T tokens. The streaming
//     kernel (rows of whole 16-byte chunks, scales uniform per chunk): each lane loads 16
//     bytes per step (16 FP8, 8 BF16/F16 or 4 F32 elements), two steps in flight, with
//     cache-streaming loads; FP8 is widened branch-free (the cvt instructions on sm_89+, bit
//     moves into F16 before); a block scale is read once per chunk, a row or tensor scale once
//     per row. Rows are split over 4 warps when there are few of them (the 4480-row matrices),
//     so the grid still fills the GPU. Anything else takes the general kernel, one element
//     per lane per step;
//   prefill (T > 8), BF16 and FP8 weights: tensor cores (WMMA BF16, fp32 accumulation). Each
//     weight is widened exactly into BF16 in shared memory (every BF16, E4M3 and E5M2 value is
//     a BF16 value) and its scale applied outside the product: per row in the epilogue, per
//     128-block when a k-block ends (the tile's rows lie in one row block). The fp32
//     activations go in as two BF16 halves, hi = bf16(x) and lo = bf16(x - hi), so the product
//     keeps ~16 bits of x (the logits stay within 1e-3 of the CPU's; one BF16 term alone would
//     not). 64 tokens x 64 rows per block of 4 warps, 32 columns per step;
//   prefill, other weights or scale grids (F16/F32, blocks that do not tile): a tiled SGEMM,
//     64 tokens x 64 rows per block of 256 threads, each thread 4x4 outputs, weights converted
//     (and scaled) into shared memory per 16-column step.
#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <mma.h>

#include "cuda/kernels.h"
#include "cuda/plan.h"

namespace nl {
namespace cuda {

namespace {

// The launch plan (cuda/plan.h) chooses the path and the grid; the kernels' shapes are its constants.
constexpr int kMaxT = kMatvecMaxT;   // matvec up to this many tokens
constexpr int kWarps = kMatvecWarps;  // matvec rows per block

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

// --- the streaming matvec -------------------------------------------------------------------
template <int D>
__host__ __device__ constexpr int chunk_elems() { return D == kF32 ? 4 : (D == kBF16 || D == kF16) ? 8 : 16; }

// The factor the widened FP8 values still need: the bit-move path places E4M3 codes into F16
// with the exponent bias of F16 (15, not 7), i.e. 2^-8 of their value; folded into the scale.
__device__ __forceinline__ float e4m3_fix() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  return 1.0f;
#else
  return 256.0f;
#endif
}

// Two F16 values packed in 32 bits, as floats (register moves: no trip through memory).
__device__ __forceinline__ float2 half2_bits(uint32_t v) {
  return __half22float2(__halves2half2(__ushort_as_half(uint16_t(v & 0xffffu)), __ushort_as_half(uint16_t(v >> 16))));
}

// Two FP8 codes (the low 16 bits of v, or the high 16 with hi) as a float2.
template <int D>
__device__ __forceinline__ float2 fp8x2(uint32_t v) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(__nv_fp8x2_storage_t(v & 0xffffu), D == kE4M3 ? __NV_E4M3 : __NV_E5M2);
  return __half22float2(__half2(h));
#else
  // Each code becomes the high byte of a 16-bit lane: exactly F16 for E5M2 (its top byte).
  uint32_t t = __byte_perm(v, 0u, 0x1404);
  if constexpr (D == kE4M3) {
    // S.EEEE.MMM -> S.0EEEE.MMM0000000: F16 with 2^-8 of the value (subnormals included);
    // S.1111.111 (NaN) gets an all-ones F16 exponent.
    const uint32_t nan = ((t & 0x7f00u) == 0x7f00u ? 0x7e00u : 0u) | ((t & 0x7f000000u) == 0x7f000000u ? 0x7e000000u : 0u);
    t = (t & 0x80008000u) | ((t >> 1) & 0x3f803f80u) | nan;
  }
  return half2_bits(t);
#endif
}

// 16 stored bytes -> chunk_elems<D>() floats.
template <int D>
__device__ __forceinline__ void widen16(const uint4& u, float* o) {
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int j = 0; j < 4; j++) {
    if constexpr (D == kF32) {
      o[j] = __uint_as_float(w[j]);
    } else if constexpr (D == kBF16) {
      o[2 * j] = __uint_as_float(w[j] << 16);
      o[2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
    } else if constexpr (D == kF16) {
      const float2 f = half2_bits(w[j]);
      o[2 * j] = f.x;
      o[2 * j + 1] = f.y;
    } else {
      const float2 a = fp8x2<D>(w[j]), b = fp8x2<D>(w[j] >> 16);
      o[4 * j] = a.x; o[4 * j + 1] = a.y; o[4 * j + 2] = b.x; o[4 * j + 3] = b.y;
    }
  }
}

// acc[t] += s · Σ_j w[j] · x[t, c0 + j] over one chunk, for t < T (T <= NT).
template <int E, int NT>
__device__ __forceinline__ void chunk_dot(const float* w, float s, const float* __restrict__ x, int64_t cols, int64_t c0,
                                          int T, float* acc) {
#pragma unroll
  for (int t = 0; t < NT; t++) {
    if (t < T) {
      const float4* xp = reinterpret_cast<const float4*>(x + t * cols + c0);
      float d = 0.0f;
#pragma unroll
      for (int q = 0; q < E / 4; q++) {
        const float4 a = __ldg(xp + q);
        d = fmaf(w[4 * q], a.x, d);
        d = fmaf(w[4 * q + 1], a.y, d);
        d = fmaf(w[4 * q + 2], a.z, d);
        d = fmaf(w[4 * q + 3], a.w, d);
      }
      acc[t] = fmaf(s, d, acc[t]);
    }
  }
}

// One row per WPR warps (4 warps a block), up to NT tokens (1: the decode step, with few
// registers; 8: a few tokens at once, with room for their accumulators). scale_per_chunk: a
// block scale for each chunk (block columns a multiple of the chunk); otherwise the row's one
// scale (or none) at the end.
template <int D, int WPR, int NT>
__global__ void __launch_bounds__(128, NT == 1 ? 4 : 2) matvec_stream_kernel(const float* __restrict__ x, int T, StoredMatrix w,
                                                            const float* __restrict__ bias, float* __restrict__ y,
                                                            bool scale_per_chunk) {
  constexpr int E = chunk_elems<D>(), ROWS = 4 / WPR;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, part = warp % WPR;
  const int64_t r = int64_t(blockIdx.x) * ROWS + warp / WPR;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; t++) acc[t] = 0.0f;
  const float fix = (D == kE4M3) ? e4m3_fix() : 1.0f;
  const float* srow = (r < w.rows && w.scale) ? w.scale_row(r) : nullptr;
  if (r < w.rows) {
    const uint4* row = reinterpret_cast<const uint4*>(w.data + r * w.cols * (16 / E));
    const int nchunks = int(w.cols / E), stride = 32 * WPR, bc = int(w.block_cols);
    int k = part * 32 + lane;
    float a[E], b[E];
    for (; k + stride < nchunks; k += 2 * stride) {  // two 16-byte loads in flight per lane
      const uint4 ua = __ldcs(row + k), ub = __ldcs(row + k + stride);
      widen16<D>(ua, a);
      widen16<D>(ub, b);
      const float sa = scale_per_chunk ? srow[(k * E) / bc] * fix : fix;
      const float sb = scale_per_chunk ? srow[((k + stride) * E) / bc] * fix : fix;
      chunk_dot<E, NT>(a, sa, x, w.cols, int64_t(k) * E, T, acc);
      chunk_dot<E, NT>(b, sb, x, w.cols, int64_t(k + stride) * E, T, acc);
    }
    if (k < nchunks) {
      widen16<D>(__ldcs(row + k), a);
      chunk_dot<E, NT>(a, scale_per_chunk ? srow[(k * E) / bc] * fix : fix, x, w.cols, int64_t(k) * E, T, acc);
    }
  }
  __shared__ float partial[4][NT];
#pragma unroll
  for (int t = 0; t < NT; t++) {
    if (t < T) {
      const float v = warp_sum(acc[t]);
      if (lane == 0) partial[warp][t] = v;
    }
  }
  if constexpr (WPR > 1) __syncthreads();
  if (part == 0 && lane < T && r < w.rows) {
    float v = 0.0f;
#pragma unroll
    for (int p = 0; p < WPR; p++) v += partial[warp + p][lane];
    if (srow && !scale_per_chunk) v *= srow[0];
    y[int64_t(lane) * w.rows + r] = v + (bias ? bias[r] : 0.0f);
  }
}

constexpr int BM = kGemmBM, BN = kGemmBN, BK = 16;

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

// --- the tensor-core GEMM -------------------------------------------------------------------
namespace tc {
constexpr int TM = kTcTM, TN = kTcTN, TK = kTcTK, PAD = 8;  // PAD: keeps WMMA's 16-byte row alignment, spreads banks
using namespace nvcuda;

// scale_mode: 0 none, 1 one scale per weight row (row or tensor grids: the epilogue applies
// it), 2 a 2-D block grid with br % TM == 0 and bc % TK == 0 (applied per k-block).
template <int D, bool BLOCKS>
__global__ void __launch_bounds__(128) gemm_tc_kernel(const float* __restrict__ x, int64_t T, StoredMatrix w,
                                                      const float* __restrict__ bias, float* __restrict__ y,
                                                      int scale_mode) {
  __shared__ __align__(32) __nv_bfloat16 xh[TM][TK + PAD], xl[TM][TK + PAD], ws[TN][TK + PAD];
  __shared__ __align__(32) float cs[TM][TN + 4];
  const int tid = threadIdx.x, warp = tid >> 5, wm = warp >> 1, wn = warp & 1;  // a warp: 32 x 32 outputs
  const int64_t t0 = int64_t(blockIdx.y) * TM, r0 = int64_t(blockIdx.x) * TN, cols = w.cols;
  // BLOCKS: products go to `part`, folded into `acc` with each k-block's scale.
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2], part[2][2];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 2; j++) {
      wmma::fill_fragment(acc[i][j], 0.0f);
      if constexpr (BLOCKS) wmma::fill_fragment(part[i][j], 0.0f);
    }
  const float* srow = w.scale ? w.scale_row(r0) : nullptr;  // mode 2: the tile's row block
  for (int64_t k0 = 0; k0 < cols; k0 += TK) {
    // Stage x (split into BF16 halves) and W (widened exactly) for columns [k0, k0 + TK).
#pragma unroll 4
    for (int e = 0; e < TM * TK / 128; e++) {
      const int idx = tid + e * 128, m = idx / TK, kk = idx % TK;
      const int t = int(t0) + m, k = int(k0) + kk;
      const int64_t r = r0 + m;
      const float xv = (t < T && k < cols) ? x[t * cols + k] : 0.0f;
      const __nv_bfloat16 hi = __float2bfloat16_rn(xv);
      xh[m][kk] = hi;
      xl[m][kk] = __float2bfloat16_rn(xv - __bfloat162float(hi));
      ws[m][kk] = __float2bfloat16_rn((r < w.rows && k < cols) ? elem<D>(w.data, r * cols + k) : 0.0f);
    }
    __syncthreads();
#pragma unroll
    for (int ks = 0; ks < TK; ks += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> ah[2], al[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> b[2];
#pragma unroll
      for (int i = 0; i < 2; i++) {
        wmma::load_matrix_sync(ah[i], &xh[wm * 32 + i * 16][ks], TK + PAD);
        wmma::load_matrix_sync(al[i], &xl[wm * 32 + i * 16][ks], TK + PAD);
        wmma::load_matrix_sync(b[i], &ws[wn * 32 + i * 16][ks], TK + PAD);  // Wᵀ: column n = row n of W
      }
#pragma unroll
      for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) {
          if constexpr (BLOCKS) {
            wmma::mma_sync(part[i][j], ah[i], b[j], part[i][j]);
            wmma::mma_sync(part[i][j], al[i], b[j], part[i][j]);
          } else {
            wmma::mma_sync(acc[i][j], ah[i], b[j], acc[i][j]);
            wmma::mma_sync(acc[i][j], al[i], b[j], acc[i][j]);
          }
        }
    }
    // A 128-block of columns ends: acc += its scale x the block's partial sums.
    if (BLOCKS && ((k0 + TK) % w.block_cols == 0 || k0 + TK >= cols)) {
      const float sc = srow[k0 / w.block_cols];
#pragma unroll
      for (int i = 0; i < 2; i++)
#pragma unroll
        for (int j = 0; j < 2; j++) {
#pragma unroll
          for (int q = 0; q < acc[i][j].num_elements; q++) acc[i][j].x[q] += sc * part[i][j].x[q];
          wmma::fill_fragment(part[i][j], 0.0f);
        }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 2; j++)
      wmma::store_matrix_sync(&cs[wm * 32 + i * 16][wn * 32 + j * 16], acc[i][j], TN + 4, wmma::mem_row_major);
  __syncthreads();
  for (int idx = tid; idx < TM * TN; idx += 128) {
    const int m = idx / TN, n = idx % TN;
    const int64_t t = t0 + m, r = r0 + n;
    if (t >= T || r >= w.rows) continue;
    float v = cs[m][n];
    if (scale_mode == 1) v *= w.scale_row(r)[0];
    y[t * w.rows + r] = v + (bias ? bias[r] : 0.0f);
  }
}

}  // namespace tc

template <int D>
void launch(const float* x, int64_t T, const StoredMatrix& w, const float* bias, float* y, cudaStream_t s) {
  const bool aligned = uintptr_t(w.data) % 16 == 0 && uintptr_t(x) % 16 == 0;
  const LinearPlan p = linear_plan(T, w, bias != nullptr, aligned);
  const unsigned threads = unsigned(p.launch.threads);
  const dim3 grid(p.launch.grid_x, p.launch.grid_y);
  switch (p.path) {
    case LinearPath::Stream:  // T = 1 has its own low-register instantiation
      if (T == 1 && p.warps_per_row == 4) matvec_stream_kernel<D, 4, 1><<<grid, threads, 0, s>>>(x, 1, w, bias, y, p.per_chunk);
      else if (T == 1) matvec_stream_kernel<D, 1, 1><<<grid, threads, 0, s>>>(x, 1, w, bias, y, p.per_chunk);
      else if (p.warps_per_row == 4) matvec_stream_kernel<D, 4, kMaxT><<<grid, threads, 0, s>>>(x, int(T), w, bias, y, p.per_chunk);
      else matvec_stream_kernel<D, 1, kMaxT><<<grid, threads, 0, s>>>(x, int(T), w, bias, y, p.per_chunk);
      break;
    case LinearPath::Matvec: matvec_kernel<D><<<grid, threads, 0, s>>>(x, int(T), w, bias, y, p.vec); break;
    case LinearPath::TensorCore:
      if constexpr (D == kBF16 || D == kE4M3 || D == kE5M2) {
        if (p.tc_mode == 2) tc::gemm_tc_kernel<D, true><<<grid, threads, 0, s>>>(x, T, w, bias, y, p.tc_mode);
        else tc::gemm_tc_kernel<D, false><<<grid, threads, 0, s>>>(x, T, w, bias, y, p.tc_mode);
      }
      break;
    case LinearPath::Sgemm: gemm_kernel<D><<<grid, threads, 0, s>>>(x, T, w, bias, y); break;
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
