// The one N-API parser of a StoredMatrix (stored_matrix.h), shared by the op, model,
// statistics, quantization and dequantize bindings: seven arguments from position i,
// (bytes, dtype, rows, cols, scale | null, blockRows, blockCols), as Tensor.nativeArgs()
// in src/tensor/tensor.ts produces them. Sizes are checked here, naming the function.
#pragma once
#include "backend.h"
#include "napi/util.h"
#include "stored_matrix.h"

namespace nl {

// Positions an argument list gives a stored matrix.
constexpr size_t kStoredMatrixArgs = 7;

inline StoredMatrix arg_stored_matrix(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  const std::string f(fn);
  StoredMatrix s;
  Bytes b = arg_bytes(info, i, "src");
  s.data = b.data;
  s.dtype = arg_dtype(info, i + 1);
  s.rows = arg_int(info, i + 2, "rows");
  s.cols = arg_int(info, i + 3, "cols");
  NL_CHECK(s.rows >= 0 && s.cols >= 0, f + ": rows and cols must not be negative");
  NL_CHECK(int64_t(b.size) >= s.bytes(), f + ": tensor holds " + std::to_string(b.size) + " bytes, rows*cols elements need " +
                                             std::to_string(s.bytes()));
  if (!info[i + 4].IsNull() && !info[i + 4].IsUndefined()) {
    Bytes sc = arg_bytes(info, i + 4, "scale");
    s.scale = reinterpret_cast<const float*>(sc.data);
    s.block_rows = arg_int(info, i + 5, "blockRows");
    s.block_cols = arg_int(info, i + 6, "blockCols");
    NL_CHECK(s.block_rows > 0 && s.block_cols > 0, f + ": scale block sizes must be positive");
    NL_CHECK(int64_t(sc.size / 4) >= s.scale_count(), f + ": scale holds " + std::to_string(sc.size / 4) +
                                                          " values, the blocks need " + std::to_string(s.scale_count()));
  }
  return s;
}

// A weight: a stored matrix with a positive shape.
inline StoredMatrix arg_weight(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  StoredMatrix w = arg_stored_matrix(info, i, fn);
  NL_CHECK(w.rows > 0 && w.cols > 0, std::string(fn) + ": weight shape must be positive");
  return w;
}

// The sampling settings at argument i (Float64Array [temperature, topK, topP, minP,
// repetitionPenalty, u]) and the context ids at i + 1 (Int32Array or null); napi/ops.cc.
SampleArgs sample_args(const Napi::CallbackInfo& info, size_t i);

}  // namespace nl
