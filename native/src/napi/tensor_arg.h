// The tensor argument shared by the statistics and quantization bindings:
// (bytes, dtype, rows, cols, scale | null, blockRows, blockCols) at positions [0, 7).
#pragma once
#include "cpu/stats.h"
#include "napi/util.h"

namespace nl {

inline TensorSource arg_tensor_source(const Napi::CallbackInfo& info, const char* fn) {
  TensorSource s;
  Bytes b = arg_bytes(info, 0, "src");
  s.data = b.data;
  s.dtype = arg_dtype(info, 1);
  s.rows = size_t(arg_int(info, 2, "rows"));
  s.cols = size_t(arg_int(info, 3, "cols"));
  NL_CHECK(b.size >= s.count() * dtype_size(s.dtype), std::string(fn) + ": tensor bytes shorter than rows*cols elements");
  if (!info[4].IsNull() && !info[4].IsUndefined()) {
    Bytes sc = arg_bytes(info, 4, "scale");
    s.scale = reinterpret_cast<const float*>(sc.data);
    s.block_rows = size_t(arg_int(info, 5, "blockRows"));
    s.block_cols = size_t(arg_int(info, 6, "blockCols"));
    NL_CHECK(s.block_rows > 0 && s.block_cols > 0, std::string(fn) + ": scale block sizes must be positive");
    size_t need = ((s.rows + s.block_rows - 1) / s.block_rows) * ((s.cols + s.block_cols - 1) / s.block_cols);
    NL_CHECK(sc.size / 4 >= need, std::string(fn) + ": scale tensor too small for its blocks");
  }
  return s;
}

}  // namespace nl
