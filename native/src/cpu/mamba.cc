// Mamba-2 mixer kernels: the causal depthwise conv1d + SiLU over xBC (sequence and step,
// carrying the last K-1 pre-conv rows as state), and the selective scan.
//
// Scan (nemotron-h.md 4.3.6), per head h with group g = h / (nh / G), a_t = dt_t · A_h:
//   S ← exp(a_t) · S + dt_t · x_t ⊗ B_t          S: (P, N), fp32
//   y_t = S · C_t + D_h · x_t
// The reference runs exactly that, token by token. The fast prefill uses the chunked SSD
// form: within a chunk of L tokens, with cum_t = Σ_{k≤t} a_k (fp64, so that differences of
// large sums keep their precision),
//   y_t = Σ_{s≤t} exp(cum_t − cum_s) · dt_s · (C_t·B_s) · x_s + exp(cum_t) · S_in·C_t + D·x_t
//   S_out = exp(cum_{L−1}) · S_in + Σ_s exp(cum_{L−1} − cum_s) · dt_s · x_s ⊗ B_s
// Threads split the heads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu/kernels.h"
#include "simd.h"
#include "thread_pool.h"

namespace nl {

using namespace simd;

// ---------------------------------------------------------------------------------------
// conv1d + SiLU
void conv1d_silu_reference(const float* in, int64_t ld_in, int64_t T, int64_t C, int64_t K, const float* w,
                           const float* b, float* conv_state, float* out) {
  // window: K-1 state rows, then the T new rows
  std::vector<float> win(size_t((K - 1 + T) * C));
  std::copy(conv_state, conv_state + (K - 1) * C, win.begin());
  for (int64_t t = 0; t < T; t++) std::copy(in + t * ld_in, in + t * ld_in + C, win.begin() + (K - 1 + t) * C);
  for (int64_t t = 0; t < T; t++) {
    for (int64_t c = 0; c < C; c++) {
      double acc = b ? b[c] : 0.0;
      for (int64_t k = 0; k < K; k++) acc += double(w[c * K + k]) * win[(t + k) * C + c];
      out[t * C + c] = float(acc / (1.0 + std::exp(-acc)));
    }
  }
  std::copy(win.begin() + T * C, win.begin() + (T + K - 1) * C, conv_state);
}

namespace {
NL_KERNEL void conv_channels(const float* in, int64_t ld_in, int64_t T, int64_t C, int64_t K, const float* w,
                             const float* b, const float* state, float* out, int64_t c0, int64_t c1) {
  for (int64_t t = 0; t < T; t++) {
    for (int64_t c = c0; c < c1; c++) {
      float acc = b ? b[c] : 0.0f;
      for (int64_t k = 0; k < K; k++) {
        int64_t j = t + k - (K - 1);  // row of the new input, negative = state row K-1+j
        float v = j >= 0 ? in[j * ld_in + c] : state[(K - 1 + j) * C + c];
        acc += w[c * K + k] * v;
      }
      out[t * C + c] = acc / (1.0f + std::exp(-acc));
    }
  }
}
}  // namespace

void conv1d_silu_fast(const float* in, int64_t ld_in, int64_t T, int64_t C, int64_t K, const float* w,
                      const float* b, float* conv_state, float* out) {
  parallel_for(size_t(C), 512, [&](size_t c0, size_t c1) {
    conv_channels(in, ld_in, T, C, K, w, b, conv_state, out, int64_t(c0), int64_t(c1));
  });
  // New state: the last K-1 rows of [state; in].
  std::vector<float> next(size_t((K - 1) * C));
  for (int64_t r = 0; r < K - 1; r++) {
    int64_t j = T + r - (K - 1);
    const float* src = j >= 0 ? in + j * ld_in : conv_state + (K - 1 + j) * C;
    std::copy(src, src + C, next.begin() + r * C);
  }
  std::copy(next.begin(), next.end(), conv_state);
}

// ---------------------------------------------------------------------------------------
// Selective scan
void ssm_sequential_reference(const SsdArgs& a) {
  const int64_t hpg = a.nh / a.G;
  std::vector<double> S(size_t(a.P * a.N));
  for (int64_t h = 0; h < a.nh; h++) {
    const int64_t g = h / hpg;
    float* st = a.state + h * a.P * a.N;
    for (int64_t i = 0; i < a.P * a.N; i++) S[i] = st[i];
    for (int64_t t = 0; t < a.T; t++) {
      const double dt = a.dt[t * a.nh + h], dA = std::exp(dt * a.A[h]);
      const float* x = a.x + t * a.ldx + h * a.P;
      const float* B = a.B + t * a.ldbc + g * a.N;
      const float* C = a.C + t * a.ldbc + g * a.N;
      for (int64_t p = 0; p < a.P; p++) {
        double y = 0;
        for (int64_t n = 0; n < a.N; n++) {
          double& s = S[p * a.N + n];
          s = dA * s + dt * x[p] * B[n];
          y += s * C[n];
        }
        a.y[t * a.nh * a.P + h * a.P + p] = float(y + double(a.D[h]) * x[p]);
      }
    }
    for (int64_t i = 0; i < a.P * a.N; i++) st[i] = float(S[i]);
  }
}

namespace {

NL_KERNEL void scale_axpy(float beta, float* y, float alpha, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = beta * y[i] + alpha * x[i];
}

// One head, one token.
void step_head(const SsdArgs& a, int64_t h, int64_t t) {
  const int64_t g = h / (a.nh / a.G), P = a.P, N = a.N;
  const float dt = a.dt[t * a.nh + h], dA = std::exp(dt * a.A[h]);
  const float* x = a.x + t * a.ldx + h * P;
  const float* B = a.B + t * a.ldbc + g * N;
  const float* C = a.C + t * a.ldbc + g * N;
  float* S = a.state + h * P * N;
  float* y = a.y + t * a.nh * P + h * P;
  for (int64_t p = 0; p < P; p++) {
    scale_axpy(dA, S + p * N, dt * x[p], B, N);
    y[p] = dot_f32(S + p * N, C, N) + a.D[h] * x[p];
  }
}

}  // namespace

void ssm_step_fast(const SsdArgs& a) {
  for (int64_t t = 0; t < a.T; t++)
    parallel_for(size_t(a.nh), 1, [&](size_t h0, size_t h1) {
      for (size_t h = h0; h < h1; h++) step_head(a, int64_t(h), t);
    });
}

void ssd_scan_fast(const SsdArgs& a) {
  const int64_t L = std::max<int64_t>(1, a.chunk), P = a.P, N = a.N, hpg = a.nh / a.G;
  for (int64_t c0 = 0; c0 < a.T; c0 += L) {
    const int64_t Lc = std::min(L, a.T - c0);
    parallel_for(size_t(a.nh), 1, [&](size_t h0, size_t h1) {
      std::vector<double> cum(Lc);
      std::vector<float> w(Lc);
      for (size_t hh = h0; hh < h1; hh++) {
        const int64_t h = int64_t(hh), g = h / hpg;
        double run = 0;
        for (int64_t s = 0; s < Lc; s++) { run += double(a.dt[(c0 + s) * a.nh + h]) * a.A[h]; cum[s] = run; }
        float* S = a.state + h * P * N;
        for (int64_t t = 0; t < Lc; t++) {
          const int64_t tt = c0 + t;
          const float* Ct = a.C + tt * a.ldbc + g * N;
          const float* xt = a.x + tt * a.ldx + h * P;
          float* y = a.y + tt * a.nh * P + h * P;
          // carried state and skip: exp(cum_t) · S_in·C_t + D·x_t
          const float decay = float(std::exp(cum[t]));
          for (int64_t p = 0; p < P; p++) y[p] = decay * dot_f32(S + p * N, Ct, N) + a.D[h] * xt[p];
          // within the chunk
          for (int64_t s = 0; s <= t; s++) {
            const int64_t ss = c0 + s;
            const float cb = dot_f32(Ct, a.B + ss * a.ldbc + g * N, N);
            const float coef = float(std::exp(cum[t] - cum[s])) * a.dt[ss * a.nh + h] * cb;
            axpy_f32(coef, a.x + ss * a.ldx + h * P, y, P);
          }
        }
        // state to the end of the chunk
        const float total = float(std::exp(cum[Lc - 1]));
        for (int64_t s = 0; s < Lc; s++) w[s] = float(std::exp(cum[Lc - 1] - cum[s])) * a.dt[(c0 + s) * a.nh + h];
        for (int64_t p = 0; p < P; p++) {
          float* Sp = S + p * N;
          for (int64_t n = 0; n < N; n++) Sp[n] *= total;
          for (int64_t s = 0; s < Lc; s++) {
            const int64_t ss = c0 + s;
            axpy_f32(w[s] * a.x[ss * a.ldx + h * P + p], a.B + ss * a.ldbc + g * N, Sp, N);
          }
        }
      }
    });
  }
}

}  // namespace nl
