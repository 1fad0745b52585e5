// FP8 codec and dtype conversion: fp8Encode, fp8Decode, their references, dequantize.
#include "cpu/fp8_codec.h"
#include "napi/tensor_arg.h"

namespace nl {

static Fp8Format arg_format(const Napi::CallbackInfo& info, size_t i) {
  int64_t f = arg_int(info, i, "format");
  if (f != 0 && f != 1) throw Error("format must be 0 (e4m3) or 1 (e5m2)");
  return Fp8Format(f);
}

// fp8Encode(src, srcDtype, format, saturate, mul, out)
NL_EXPORT(fp8Encode) {
  Bytes src = arg_bytes(info, 0, "src");
  DType t = arg_dtype(info, 1);
  Fp8Format f = arg_format(info, 2);
  bool sat = arg_bool(info, 3);
  float mul = float(arg_number(info, 4, "mul"));
  Bytes out = arg_bytes(info, 5, "out");
  size_t n = src.size / dtype_size(t);
  NL_CHECK(out.size >= n, "fp8Encode: output holds " + std::to_string(out.size) + " bytes, need " + std::to_string(n));
  fp8_encode(src.data, t, n, f, sat, mul, out.data);
  return info.Env().Undefined();
}

// fp8Decode(codes, format, mul, out: Float32Array)
NL_EXPORT(fp8Decode) {
  Bytes codes = arg_bytes(info, 0, "codes");
  Fp8Format f = arg_format(info, 1);
  float mul = float(arg_number(info, 2, "mul"));
  Bytes out = arg_bytes(info, 3, "out");
  NL_CHECK(out.size >= codes.size * 4, "fp8Decode: output too small");
  fp8_decode(codes.data, codes.size, f, mul, reinterpret_cast<float*>(out.data));
  return info.Env().Undefined();
}

// fp8EncodeReference(src: Float32Array, format, saturate, out)
NL_EXPORT(fp8EncodeReference) {
  Bytes src = arg_bytes(info, 0, "src");
  Fp8Format f = arg_format(info, 1);
  bool sat = arg_bool(info, 2);
  Bytes out = arg_bytes(info, 3, "out");
  size_t n = src.size / 4;
  NL_CHECK(out.size >= n, "fp8EncodeReference: output too small");
  const float* x = reinterpret_cast<const float*>(src.data);
  for (size_t i = 0; i < n; i++) out.data[i] = fp8_encode_reference(x[i], f, sat);
  return info.Env().Undefined();
}

// fp8DecodeReference(codes, format, out: Float32Array)
NL_EXPORT(fp8DecodeReference) {
  Bytes codes = arg_bytes(info, 0, "codes");
  Fp8Format f = arg_format(info, 1);
  Bytes out = arg_bytes(info, 2, "out");
  NL_CHECK(out.size >= codes.size * 4, "fp8DecodeReference: output too small");
  float* o = reinterpret_cast<float*>(out.data);
  for (size_t i = 0; i < codes.size; i++) o[i] = fp8_decode_reference(codes.data[i], f);
  return info.Env().Undefined();
}

// dequantize(src, dtype, rows, cols, scale: Float32Array | null, blockRows, blockCols, out: Float32Array)
NL_EXPORT(dequantize) {
  StoredMatrix s = arg_stored_matrix(info, 0, "dequantize");
  Bytes out = arg_bytes(info, 7, "out");
  NL_CHECK(int64_t(out.size / 4) >= s.count(), "dequantize: output too small");
  dequantize(s, reinterpret_cast<float*>(out.data));
  return info.Env().Undefined();
}

}  // namespace nl
