// MoE ops of backend.h: the router (top-k experts of σ(logits) + correction bias within the best
// topk_group groups, docs/model.md section 6) and the row gather / weighted scatter-add around
// the expert MLPs. The router works on T×E scores and decides the shapes the host launches, so
// it is one host function for every backend (the CUDA backend reads the logits back to run it);
// gather and scatter have a reference and a threaded version with the same arithmetic.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <vector>

#include "cpu/kernels.h"
#include "thread_pool.h"

namespace nl {

void moe_route_host(const float* logits, int64_t T, const MoeRouting& r, int32_t* experts, float* weights) {
  const int64_t E = r.E, k = r.k, ng = std::max<int64_t>(1, r.n_group);
  NL_CHECK(k >= 1 && k <= E, "moe_route: k=" + std::to_string(k) + " must be in [1, E=" + std::to_string(E) + "]");
  NL_CHECK(E % ng == 0, "moe_route: n_group=" + std::to_string(ng) + " must divide E=" + std::to_string(E));
  std::vector<double> score(E), choice(E), gscore(ng), v;
  std::vector<int64_t> order(E), gorder(ng);
  for (int64_t t = 0; t < T; t++) {
    for (int64_t e = 0; e < E; e++) {
      score[e] = 1.0 / (1.0 + std::exp(-double(logits[t * E + e])));
      choice[e] = score[e] + (r.correction ? r.correction[e] : 0.0);
    }
    if (ng > 1) {  // keep the topk_group groups whose two best choices sum highest
      const int64_t per = E / ng;
      for (int64_t g = 0; g < ng; g++) {
        v.assign(choice.begin() + g * per, choice.begin() + (g + 1) * per);
        std::sort(v.begin(), v.end(), std::greater<double>());
        gscore[g] = v[0] + (per > 1 ? v[1] : 0.0);
      }
      std::iota(gorder.begin(), gorder.end(), 0);
      std::stable_sort(gorder.begin(), gorder.end(), [&](int64_t a, int64_t b) { return gscore[a] > gscore[b]; });
      for (int64_t g = r.topk_group; g < ng; g++)
        for (int64_t e = gorder[g] * per; e < (gorder[g] + 1) * per; e++) choice[e] = -INFINITY;
    }
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return choice[a] > choice[b]; });
    double sum = 0;
    for (int64_t j = 0; j < k; j++) sum += score[order[j]];
    for (int64_t j = 0; j < k; j++) {
      double wt = score[order[j]];
      if (r.norm_topk) wt /= (sum + 1e-20);
      experts[t * k + j] = int32_t(order[j]);
      weights[t * k + j] = float(wt * r.scale);
    }
  }
}

void gather_rows_reference(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t c = 0; c < cols; c++) dst[j * cols + c] = src[int64_t(rows[j]) * cols + c];
}

void gather_rows_fast(const float* src, int64_t cols, const int32_t* rows, int64_t n, float* dst) {
  parallel_for(size_t(n), 16, [&](size_t b, size_t e) {
    for (size_t j = b; j < e; j++) std::memcpy(dst + int64_t(j) * cols, src + int64_t(rows[j]) * cols, size_t(cols) * sizeof(float));
  });
}

void scatter_add_rows_reference(const float* src, int64_t cols, const int32_t* rows, const float* weights, int64_t n,
                                float* dst) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t c = 0; c < cols; c++) dst[int64_t(rows[j]) * cols + c] += weights[j] * src[j * cols + c];
}

// Rows are distinct within a call, so threads never write the same row.
void scatter_add_rows_fast(const float* src, int64_t cols, const int32_t* rows, const float* weights, int64_t n,
                           float* dst) {
  parallel_for(size_t(n), 16, [&](size_t b, size_t e) {
    for (size_t j = b; j < e; j++) {
      float* d = dst + int64_t(rows[j]) * cols;
      const float* s = src + int64_t(j) * cols;
      const float w = weights[j];
      for (int64_t c = 0; c < cols; c++) d[c] += w * s[c];
    }
  });
}

}  // namespace nl
