// Derived lens views (lens.h): plain loops in double, threaded over heads.
#include "model/lens.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "thread_pool.h"

namespace nl {

void attention_pattern(const float* q, const float* k, int64_t T, int64_t nq, int64_t nkv, int64_t hd, float scale,
                       float* p) {
  const int64_t rep = nq / nkv;
  parallel_for(size_t(nq), 1, [&](size_t h0, size_t h1) {
    std::vector<double> s(static_cast<size_t>(T));
    for (size_t h = h0; h < h1; h++) {
      const int64_t kh = int64_t(h) / rep;
      for (int64_t t = 0; t < T; t++) {
        const float* qt = q + t * nq * hd + int64_t(h) * hd;
        double mx = -INFINITY;
        for (int64_t j = 0; j <= t; j++) {
          const float* kj = k + j * nkv * hd + kh * hd;
          double d = 0;
          for (int64_t c = 0; c < hd; c++) d += double(qt[c]) * kj[c];
          s[j] = d * scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j <= t; j++) sum += (s[j] = std::exp(s[j] - mx));
        float* row = p + (int64_t(h) * T + t) * T;
        for (int64_t j = 0; j <= t; j++) row[j] = float(s[j] / sum);
        std::fill(row + t + 1, row + T, 0.0f);
      }
    }
  });
}

void effective_attention(const float* B, const float* C, const float* dt, const float* A, int64_t T, int64_t nh,
                         int64_t G, int64_t N, float* M) {
  const int64_t per_group = nh / G;
  // C_t . B_s once per group, shared by its heads: (G, T, T) lower triangle.
  std::vector<double> cb(size_t(G * T * T), 0.0);
  parallel_for(size_t(G * T), 1, [&](size_t r0, size_t r1) {
    for (size_t r = r0; r < r1; r++) {
      const int64_t g = int64_t(r) / T, t = int64_t(r) % T;
      const float* ct = C + t * G * N + g * N;
      for (int64_t s = 0; s <= t; s++) {
        const float* bs = B + s * G * N + g * N;
        double d = 0;
        for (int64_t n = 0; n < N; n++) d += double(ct[n]) * bs[n];
        cb[size_t((g * T + t) * T + s)] = d;
      }
    }
  });
  parallel_for(size_t(nh), 1, [&](size_t h0, size_t h1) {
    std::vector<double> cum(static_cast<size_t>(T));  // cum[t] = sum_{k<=t} dt_k A_h
    for (size_t h = h0; h < h1; h++) {
      const int64_t g = int64_t(h) / per_group;
      double acc = 0;
      for (int64_t t = 0; t < T; t++) cum[size_t(t)] = acc += double(dt[t * nh + int64_t(h)]) * A[h];
      for (int64_t t = 0; t < T; t++) {
        float* row = M + (int64_t(h) * T + t) * T;
        const double* cbr = cb.data() + (g * T + t) * T;
        for (int64_t s = 0; s <= t; s++)
          row[s] = float(cbr[s] * std::exp(cum[size_t(t)] - cum[size_t(s)]) * double(dt[s * nh + int64_t(h)]));
        std::fill(row + t + 1, row + T, 0.0f);
      }
    }
  });
}

}  // namespace nl
