// The memory traffic of one CUDA decode step, from the kernels' own launch plans: the real
// forward (Model::forward_sample, T = 1) runs on a backend that launches nothing and adds up,
// for each op, the bytes its launches read and write (cuda/plan.h, the functions the CUDA
// launchers take their grids from). Set beside the bytes a decode step cannot avoid: every
// weight once (linears, scales, the small vectors), the KV cache read and its new rows written,
// the Mamba conv and SSM states read and written, one BF16 embedding row. Needs no GPU.
#pragma once
#include <string>
#include <vector>

#include "model/nemotron_h.h"

namespace nl {

struct KernelTraffic {
  std::string kernel;
  int64_t launches = 0;
  double read = 0, write = 0;
};

struct DecodeTraffic {
  double moved = 0;        // bytes the launches read and write
  double unavoidable = 0;  // weights + KV + state + one embedding row
  double weights = 0;      // of which: weights (and their scales)
  int64_t launches = 0;    // kernel launches (host copies not counted)
  std::vector<KernelTraffic> kernels;  // by kernel name, in first-launch order
};

// A model of `cfg`'s shapes (MLP width mlp_inner) with its linears stored in `linear_dtype` (FP8
// with a per-tensor scale, as ModelOpt stores the 9B, or BF16), a BF16 embedding and lm_head,
// decoding one token greedily at `context` tokens of context.
DecodeTraffic cuda_decode_traffic(const ModelConfig& cfg, DType linear_dtype, int64_t mlp_inner, int64_t context);

}  // namespace nl
