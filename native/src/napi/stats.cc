// Statistics bindings: tensorMoments, tensorStats, tensorHistogram. A tensor is
// passed as (bytes, dtype, rows, cols, scale | null, blockRows, blockCols).
#include "cpu/stats.h"
#include "napi/tensor_arg.h"

namespace nl {

static Napi::Object moments_object(Napi::Env env, const Moments& m) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("sum", m.sum); o.Set("sumsq", m.sumsq);
  o.Set("min", m.min); o.Set("max", m.max); o.Set("absmax", m.absmax);
  o.Set("minAbsNonzero", m.min_abs_nonzero);
  o.Set("finite", double(m.finite)); o.Set("zeros", double(m.zeros)); o.Set("nan", double(m.nan));
  o.Set("posInf", double(m.pos_inf)); o.Set("negInf", double(m.neg_inf));
  return o;
}

// tensorMoments(src, dtype, rows, cols, scale, br, bc, reference?): the moments alone; the
// single-threaded reference when asked (tests compare the two).
NL_EXPORT(tensorMoments) {
  StoredMatrix s = arg_stored_matrix(info, 0, "tensorMoments");
  return moments_object(info.Env(), arg_bool(info, 7) ? compute_moments_reference(s) : compute_moments(s));
}

// tensorStats(src, dtype, rows, cols, scale, br, bc, q: Float64Array) -> moments + { percentiles }
NL_EXPORT(tensorStats) {
  StoredMatrix s = arg_stored_matrix(info, 0, "tensorStats");
  Bytes qb = arg_bytes(info, 7, "q");
  std::vector<double> q(reinterpret_cast<double*>(qb.data), reinterpret_cast<double*>(qb.data) + qb.size / 8);
  std::vector<double> p;
  Napi::Object o = moments_object(info.Env(), compute_stats(s, q, p));
  auto out = Napi::Float64Array::New(info.Env(), p.size());
  for (size_t i = 0; i < p.size(); i++) out[i] = p[i];
  o.Set("percentiles", out);
  return o;
}

// tensorHistogram(src, dtype, rows, cols, scale, br, bc, bins, lo, hi, log); NaN lo/hi: the data's range
NL_EXPORT(tensorHistogram) {
  StoredMatrix s = arg_stored_matrix(info, 0, "tensorHistogram");
  size_t bins = size_t(arg_int(info, 7, "bins"));
  double lo = arg_number(info, 8, "lo"), hi = arg_number(info, 9, "hi");
  Histogram h = compute_histogram(s, bins, lo, hi, arg_bool(info, 10));
  Napi::Object o = Napi::Object::New(info.Env());
  auto edges = Napi::Float64Array::New(info.Env(), h.edges.size());
  for (size_t i = 0; i < h.edges.size(); i++) edges[i] = h.edges[i];
  auto counts = Napi::Float64Array::New(info.Env(), h.counts.size());
  for (size_t i = 0; i < h.counts.size(); i++) counts[i] = double(h.counts[i]);
  o.Set("edges", edges); o.Set("counts", counts);
  o.Set("below", double(h.below)); o.Set("above", double(h.above));
  return o;
}

}  // namespace nl
