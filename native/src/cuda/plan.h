// Launch plans of the CUDA kernels: each op's launches (kernel, grid, block) and the bytes
// each launch reads and writes (every distinct byte once: what must cross the memory bus if
// nothing survives in cache between launches), as plain C++ (no CUDA types). The launchers
// (cuda/*.cu) take their grids from these functions, and the traffic model of a decode step
// (model/decode_traffic.cc) adds up their bytes, so both come from one place.
#pragma once
#include <algorithm>
#include <cstdint>

#include "backend.h"

namespace nl {
namespace cuda {

struct Launch {
  const char* kernel = "";
  unsigned grid_x = 1, grid_y = 1;
  int threads = 256;
  double read = 0, write = 0;  // bytes
};

inline unsigned plan_blocks(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }
inline unsigned grid_stride_blocks(int64_t n) { return unsigned(std::min<int64_t>((n + 255) / 256, 65535)); }
constexpr double kF = 4;  // bytes of an fp32 activation

// --- linear -------------------------------------------------------------------------------------
// decode (T <= 8): the streaming matvec when rows are whole 16-byte chunks (bases aligned) and
// a scale is uniform per chunk, 4 warps per row below 16k rows, else 4 rows a block; otherwise
// the general matvec. prefill: tensor cores for BF16/FP8 weights whose scales tile, else SGEMM.
enum class LinearPath { Stream, Matvec, TensorCore, Sgemm };
constexpr int kMatvecMaxT = 8, kMatvecWarps = 4;
constexpr int64_t kFewRows = 16384;
constexpr int kTcTM = 64, kTcTN = 64, kTcTK = 32;  // tensor-core tile: tokens, rows, columns per step
constexpr int kGemmBM = 64, kGemmBN = 64;          // SGEMM tile: tokens, rows

struct LinearPlan {
  LinearPath path;
  bool per_chunk = false;  // Stream: a block scale for each 16-byte chunk
  int warps_per_row = 1;   // Stream
  bool vec = false;        // Matvec: 8-element vector loads
  int tc_mode = 0;         // TensorCore: 0 no scale, 1 a scale per row (or tensor), 2 128-blocks
  Launch launch;
};

// Stored elements per 16-byte chunk.
inline int64_t chunk_elems(DType d) { return 16 / int64_t(dtype_size(d)); }

// The scale mode the tensor-core GEMM applies exactly, or -1 (F16/F32 values are not all BF16
// values; block scales must tile).
inline int tc_scale_mode(const StoredMatrix& w) {
  if (w.dtype != DType::BF16 && w.dtype != DType::F8_E4M3 && w.dtype != DType::F8_E5M2) return -1;
  if (!w.scale) return 0;
  if (w.block_cols >= w.cols) return 1;
  return (w.block_rows % kTcTM == 0 && w.block_cols % kTcTK == 0) ? 2 : -1;
}

// aligned: the weight's and x's device addresses are 16-byte aligned (device allocations are).
inline LinearPlan linear_plan(int64_t T, const StoredMatrix& w, bool bias, bool aligned) {
  LinearPlan p;
  const int64_t E = chunk_elems(w.dtype);
  p.launch.read = double(w.bytes()) + (w.scale ? double(w.scale_count()) * 4 : 0) + T * w.cols * kF + (bias ? w.rows * kF : 0);
  p.launch.write = double(T * w.rows) * kF;
  const bool per_chunk = w.scale && w.block_cols < w.cols;
  const bool streamable = w.cols % E == 0 && aligned && w.cols / E <= (int64_t(1) << 30) && (!per_chunk || w.block_cols % E == 0);
  if (T <= kMatvecMaxT && streamable) {
    p.path = LinearPath::Stream;
    p.per_chunk = per_chunk;
    p.warps_per_row = w.rows < kFewRows ? 4 : 1;
    p.launch.kernel = "matvec_stream";
    p.launch.grid_x = p.warps_per_row == 4 ? unsigned(w.rows) : plan_blocks(w.rows, 4);
    p.launch.threads = 128;
  } else if (T <= kMatvecMaxT) {
    p.path = LinearPath::Matvec;
    p.vec = w.cols % 8 == 0 && aligned;
    p.launch.kernel = "matvec";
    p.launch.grid_x = plan_blocks(w.rows, kMatvecWarps);
    p.launch.threads = kMatvecWarps * 32;
  } else if ((p.tc_mode = tc_scale_mode(w)) >= 0) {
    p.path = LinearPath::TensorCore;
    p.launch.kernel = "gemm_tc";
    p.launch.grid_x = plan_blocks(w.rows, kTcTN);
    p.launch.grid_y = plan_blocks(T, kTcTM);
    p.launch.threads = 128;
  } else {
    p.path = LinearPath::Sgemm;
    p.launch.kernel = "gemm";
    p.launch.grid_x = plan_blocks(w.rows, kGemmBN);
    p.launch.grid_y = plan_blocks(T, kGemmBM);
    p.launch.threads = 256;
  }
  return p;
}

// --- attention ----------------------------------------------------------------------------------
// A decode step (T = 1) splits the keys across up to 64 blocks per head (512 keys each) and
// merges the partial results in a second kernel (flash-decoding); otherwise one block per
// (token, head) walks its whole causal range. The K/V footprint counts each KV head once (the
// query heads of a group read the same rows, from cache).
constexpr int64_t kKeysPerSplit = 512, kMaxSplits = 64;
constexpr int kAttnWarps = 4, kMergeThreads = 128;
struct AttentionPlan {
  int64_t splits;     // key ranges per head (1: no split, no merge)
  int64_t per_split;  // keys per range
  Launch main, merge;
};
inline AttentionPlan attention_plan(const AttnArgs& a) {
  const int64_t len = a.past + a.T, splits_wanted = (a.past + 1 + kKeysPerSplit - 1) / kKeysPerSplit;
  const int64_t splits = a.T == 1 ? std::max<int64_t>(1, std::min<int64_t>(kMaxSplits, splits_wanted)) : 1;
  AttentionPlan p{splits, splits > 1 ? (a.past + 1 + splits - 1) / splits : len, {}, {}};
  const double q = double(a.T * a.nq * a.hd) * kF, kv = 2.0 * double(len * a.nkv * a.hd) * double(dtype_size(a.kv_dtype));
  p.main.threads = kAttnWarps * 32;
  p.main.read = q + kv;
  if (splits > 1) {
    const double part = double(a.nq * splits * (a.hd + 2)) * kF;
    p.main.kernel = "attention_split";
    p.main.grid_x = unsigned(a.nq);
    p.main.grid_y = unsigned(splits);
    p.main.write = part;
    p.merge = {"attention_merge", unsigned(a.nq), 1, kMergeThreads, part, q};
  } else {
    p.main.kernel = "attention";
    p.main.grid_x = unsigned(a.T * a.nq);
    p.main.write = q;
  }
  return p;
}

// --- the rest of a layer ------------------------------------------------------------------------
constexpr int kNormThreads = 256;
inline Launch rmsnorm_plan(int64_t T, int64_t n) {
  return {"rmsnorm", unsigned(T), 1, kNormThreads, double(T * n + n) * kF, double(T * n) * kF};
}
inline Launch add_rmsnorm_plan(int64_t T, int64_t n) {  // reads h, y, w; writes h, x
  return {"add_rmsnorm", unsigned(T), 1, kNormThreads, double(2 * T * n + n) * kF, double(2 * T * n) * kF};
}
inline Launch gated_rmsnorm_plan(int64_t T, int64_t n, int64_t group) {  // reads y, z, w
  return {"gated_rmsnorm", unsigned(n / group), unsigned(T), kNormThreads, double(2 * T * n + n) * kF, double(T * n) * kF};
}
constexpr int kConvThreads = 128;
inline Launch conv1d_plan(int64_t T, int64_t C, int64_t K, bool bias) {  // in, state, taps, bias -> out, state
  return {"conv1d_silu", plan_blocks(C, kConvThreads), 1, kConvThreads,
          double(T * C + (K - 1) * C + K * C + (bias ? C : 0)) * kF, double(T * C + (K - 1) * C) * kF};
}
inline Launch dt_softplus_plan(int64_t T, int64_t nh) {
  return {"dt_softplus", plan_blocks(T * nh, 256), 1, 256, double(T * nh + nh) * kF, double(T * nh) * kF};
}
constexpr int kSsmWarps = 4;
inline Launch ssm_scan_plan(const SsdArgs& a) {  // x, B, C, dt, A, D, state -> state, y
  const double state = double(a.nh * a.P * a.N) * kF;
  return {"ssm_scan", plan_blocks(a.nh * a.P, kSsmWarps), 1, kSsmWarps * 32,
          double(a.T * (a.nh * a.P + 2 * a.G * a.N + a.nh) + 2 * a.nh) * kF + state, state + double(a.T * a.nh * a.P) * kF};
}
inline Launch relu2_plan(int64_t n) { return {"relu2", grid_stride_blocks(n), 1, 256, n * kF, n * kF}; }
inline Launch add_plan(int64_t n) { return {"add", grid_stride_blocks(n), 1, 256, 2 * n * kF, n * kF}; }
inline Launch to_bf16_plan(int64_t n) { return {"to_bf16", grid_stride_blocks(n), 1, 256, n * kF, n * 2.0}; }

// --- sampling -------------------------------------------------------------------------------------
// One block: the logits row is copied into a work row (greedy reads it once more); top-p also
// writes and reads a row of double probabilities; 4 bytes (the id) come back.
constexpr int kSampleThreads = 512;
inline Launch sample_plan(int64_t n, const SampleArgs& a) {
  const bool nucleus = a.temperature != 0 && a.top_p < 1;
  return {"sample", 1, 1, kSampleThreads, double(n) * (2 * kF + (nucleus ? 8 : 0)) + double(a.n_context) * 4,
          double(n) * (kF + (nucleus ? 8 : 0)) + 4};
}

// The embedding rows are gathered on the host; T fp32 rows go up.
inline Launch embedding_upload_plan(int64_t T, int64_t cols) { return {"embedding_upload", 0, 0, 0, 0, double(T * cols) * kF}; }

}  // namespace cuda
}  // namespace nl
