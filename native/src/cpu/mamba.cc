// Mamba-2 mixer kernels: the causal depthwise conv1d + SiLU over xBC (sequence and step,
// carrying the last K-1 pre-conv rows as state), and the selective scan.
//
// Scan (docs/model.md section 3, step 6), per head h with group g = h / (nh / G), a_t = dt_t · A_h:
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
#include <cstring>
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
// Tokens [t0, t1), channels [c0, c1): 16 channels per vector, SiLU vectorised. wt is the
// weight transposed to (K, C), so each tap is one vector load (a strided gather per tap
// per token cost as much as the rest of the kernel).
NL_KERNEL void conv_channels(const float* in, int64_t ld_in, int64_t t0, int64_t t1, int64_t C, int64_t K, const float* w,
                             const float* wt, const float* b, const float* state, float* out, int64_t c0, int64_t c1) {
  for (int64_t t = t0; t < t1; t++) {
    int64_t c = c0;
    for (; c + 16 <= c1; c += 16) {
      v16f acc = b ? load(b + c) : v16f{};
      for (int64_t k = 0; k < K; k++) {
        int64_t j = t + k - (K - 1);  // row of the new input, negative = state row K-1+j
        const float* src = j >= 0 ? in + j * ld_in + c : state + (K - 1 + j) * C + c;
        acc += load(wt + k * C + c) * load(src);
      }
      store(out + t * C + c, silu16(acc));
    }
    for (; c < c1; c++) {
      float acc = b ? b[c] : 0.0f;
      for (int64_t k = 0; k < K; k++) {
        int64_t j = t + k - (K - 1);
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
  // Whole tokens per task, ~32K channel-steps each: one decode token runs inline (no wake-up).
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, C * K));
  std::vector<float> wt(size_t(K * C));
  for (int64_t c = 0; c < C; c++)
    for (int64_t k = 0; k < K; k++) wt[k * C + c] = w[c * K + k];
  parallel_for(size_t(T), size_t(grain), [&](size_t t0, size_t t1) {
    conv_channels(in, ld_in, int64_t(t0), int64_t(t1), C, K, w, wt.data(), b, conv_state, out, 0, C);
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

// One head, one token: S ← dA·S + (dt·x_p)·B per row p, y_p = S_p·C + D·x_p (vectors over n).
NL_KERNEL void step_head(const SsdArgs& a, int64_t h, int64_t t) {
  const int64_t g = h / (a.nh / a.G), P = a.P, N = a.N, N16 = N & ~int64_t(15);
  const float dt = a.dt[t * a.nh + h], dA = std::exp(dt * a.A[h]);
  const float* x = a.x + t * a.ldx + h * P;
  const float* B = a.B + t * a.ldbc + g * N;
  const float* C = a.C + t * a.ldbc + g * N;
  float* S = a.state + h * P * N;
  float* y = a.y + t * a.nh * P + h * P;
  for (int64_t p = 0; p < P; p++) {
    float* Sp = S + p * N;
    const float u = dt * x[p];
    v16f acc = {};
    int64_t n = 0;
    for (; n < N16; n += 16) {
      v16f sv = dA * load(Sp + n) + u * load(B + n);
      store(Sp + n, sv);
      acc += sv * load(C + n);
    }
    float yp = hsum(acc);
    for (; n < N; n++) { Sp[n] = dA * Sp[n] + u * B[n]; yp += Sp[n] * C[n]; }
    y[p] = yp + a.D[h] * x[p];
  }
}

// Per-thread scratch for the chunked scan, kept between calls (no per-chunk allocation).
struct ScanScratch {
  std::vector<float> cb, bt, bc, st, m, xs, dth;
  std::vector<double> cum;
};

typedef double v8d __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));

// float(ct - cum[s0 .. s0+16)): differences in fp64, then 16 fp32 lanes.
NL_INLINE v16f cum_differences(double ct, const double* cum) {
  v8d lo, hi;
  std::memcpy(&lo, cum, 64);
  std::memcpy(&hi, cum + 8, 64);
  const v8f a = __builtin_convertvector(ct - lo, v8f), b = __builtin_convertvector(ct - hi, v8f);
#if defined(__clang__) || __GNUC__ >= 12
  return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#else
  v16f d;  // (through memory: older GCC has no __builtin_shufflevector)
  std::memcpy(&d, &a, 32);
  std::memcpy(reinterpret_cast<char*>(&d) + 32, &b, 32);
  return d;
#endif
}

// (n, m) lanes of 16 in a row of `cols` (padded to a multiple of 16).
inline int64_t pad16(int64_t n) { return (n + 15) & ~int64_t(15); }

// One chunk [c0, c0+Lc) of group g and its heads (see the header for the formulas), as
// small dense products vectorised over 16 lanes:
//   CB[t][s] = C_t·B_s (shared by the group's heads), via Bᵀ so lanes run over s;
//   M[t][s]  = CB[t][s] · exp(cum_t − cum_s) · dt_s for s ≤ t, 0 above the diagonal;
//   y_t      = Σ_s M[t][s] x_s + exp(cum_t) · S_in·C_t + D x_t   (lanes over p);
//   S_out    = exp(cum_L) S_in + Σ_s exp(cum_L − cum_s) dt_s x_s ⊗ B_s   (lanes over n).
NL_KERNEL void scan_chunk_group(const SsdArgs& a, int64_t c0, int64_t Lc, int64_t g, ScanScratch& w) {
  const int64_t P = a.P, N = a.N, hpg = a.nh / a.G, Lp = pad16(Lc), Pp = pad16(P);
  w.bt.assign(size_t(N * Lp), 0.0f);
  w.cb.resize(size_t(Lc * Lp));
  w.st.resize(size_t(N * Pp));
  w.m.resize(size_t(Lp));
  w.xs.assign(size_t(Lc * Pp), 0.0f);
  w.cum.resize(size_t(Lp));
  w.dth.resize(size_t(Lp));
  w.bc.resize(size_t(Lc * N));  // B rows of the chunk, contiguous (the source rows are conv_dim apart)
  const float* Bg = a.B + c0 * a.ldbc + g * N;
  const float* Cg = a.C + c0 * a.ldbc + g * N;
  for (int64_t s = 0; s < Lc; s++)
    for (int64_t n = 0; n < N; n++) w.bt[n * Lp + s] = w.bc[s * N + n] = Bg[s * a.ldbc + n];
  // CB, four rows t at a time (independent FMA chains), lanes over s up to the diagonal
  for (int64_t t0 = 0; t0 < Lc; t0 += 4) {
    const int64_t nt = std::min<int64_t>(4, Lc - t0);
    const float* Ct[4];
    for (int64_t i = 0; i < 4; i++) Ct[i] = Cg + (t0 + std::min(i, nt - 1)) * a.ldbc;
    for (int64_t s0 = 0; s0 <= t0 + nt - 1; s0 += 16) {
      v16f acc[4] = {};
      for (int64_t n = 0; n < N; n++) {
        const v16f b = load(w.bt.data() + n * Lp + s0);
        for (int i = 0; i < 4; i++) acc[i] += Ct[i][n] * b;
      }
      for (int64_t i = 0; i < nt; i++) store(w.cb.data() + (t0 + i) * Lp + s0, acc[i]);
    }
  }
  for (int64_t h = g * hpg; h < (g + 1) * hpg; h++) {
    float* S = a.state + h * P * N;
    const float* dt = a.dt + c0 * a.nh + h;
    double run = 0;
    for (int64_t s = 0; s < Lc; s++) { run += double(dt[s * a.nh]) * a.A[h]; w.cum[s] = run; w.dth[s] = dt[s * a.nh]; }
    for (int64_t s = Lc; s < Lp; s++) { w.cum[s] = run; w.dth[s] = 0.0f; }  // lanes past the chunk (masked below)
    // x of this head, rows padded to Pp (lanes over p)
    for (int64_t s = 0; s < Lc; s++) std::copy(a.x + (c0 + s) * a.ldx + h * P, a.x + (c0 + s) * a.ldx + h * P + P, w.xs.begin() + s * Pp);
    // S_inᵀ (n, p) so that S_in·C_t runs with lanes over p
    for (int64_t p = 0; p < P; p++)
      for (int64_t n = 0; n < N; n++) w.st[n * Pp + p] = S[p * N + n];
    for (int64_t p = P; p < Pp; p++)
      for (int64_t n = 0; n < N; n++) w.st[n * Pp + p] = 0.0f;
    for (int64_t t = 0; t < Lc; t++) {
      // M row t: exponent differences in fp64 (cum sums grow), exp in fp32 lanes
      // (whole vectors; lanes s > t, whose exponent may overflow, are set to 0)
      const float* cbt = w.cb.data() + t * Lp;
      const v16i lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
      for (int64_t s0 = 0; s0 <= t; s0 += 16) {
        const v16f m = load(cbt + s0) * exp16(cum_differences(w.cum[t], w.cum.data() + s0)) * load(w.dth.data() + s0);
        store(w.m.data() + s0, lane + int32_t(s0) <= int32_t(t) ? m : v16f{});
      }
      float* y = a.y + (c0 + t) * a.nh * P + h * P;
      const float* Ct = Cg + t * a.ldbc;
      const float decay = float(std::exp(w.cum[t]));
      for (int64_t p0 = 0; p0 < Pp; p0 += 64) {
        const int64_t nv = std::min<int64_t>(4, (Pp - p0) / 16);
        v16f carried[4] = {}, intra[4] = {};
        for (int64_t n = 0; n < N; n++)
          for (int j = 0; j < 4; j++)
            if (j < nv) carried[j] += Ct[n] * load(w.st.data() + n * Pp + p0 + 16 * j);
        for (int64_t s = 0; s <= t; s++)
          for (int j = 0; j < 4; j++)
            if (j < nv) intra[j] += w.m[s] * load(w.xs.data() + s * Pp + p0 + 16 * j);
        for (int j = 0; j < nv; j++) {
          v16f v = decay * carried[j] + intra[j];
          const int64_t q = p0 + 16 * j, np = std::min<int64_t>(16, P - q);
          v = v + a.D[h] * load(w.xs.data() + t * Pp + q);
          if (np == 16) store(y + q, v);
          else for (int64_t l = 0; l < np; l++) y[q + l] = v[l];
        }
      }
    }
    // state to the end of the chunk
    const float total = float(std::exp(w.cum[Lc - 1]));
    for (int64_t s = 0; s < Lc; s++) w.m[s] = float(std::exp(w.cum[Lc - 1] - w.cum[s])) * dt[s * a.nh];
    const int64_t N16 = N & ~int64_t(15);
    for (int64_t p = 0; p < P; p++) {
      float* Sp = S + p * N;
      for (int64_t n0 = 0; n0 < N16; n0 += 64) {
        const int64_t nv = std::min<int64_t>(4, (N16 - n0) / 16);
        v16f acc[4];
        for (int j = 0; j < 4; j++) acc[j] = j < nv ? total * load(Sp + n0 + 16 * j) : v16f{};
        for (int64_t s = 0; s < Lc; s++) {
          const float c = w.m[s] * w.xs[s * Pp + p];
          for (int j = 0; j < 4; j++)
            if (j < nv) acc[j] += c * load(w.bc.data() + s * N + n0 + 16 * j);
        }
        for (int j = 0; j < nv; j++) store(Sp + n0 + 16 * j, acc[j]);
      }
      for (int64_t n = N16; n < N; n++) {
        float acc = total * Sp[n];
        for (int64_t s = 0; s < Lc; s++) acc += (w.m[s] * w.xs[s * Pp + p]) * w.bc[s * N + n];
        Sp[n] = acc;
      }
    }
  }
}

}  // namespace

void ssm_step_fast(const SsdArgs& a) {
  // A decode step of a few heads is ~µs of work per head: split in two at most.
  for (int64_t t = 0; t < a.T; t++)
    parallel_for(size_t(a.nh), size_t(std::max<int64_t>(1, a.nh / 2)), [&](size_t h0, size_t h1) {
      for (size_t h = h0; h < h1; h++) step_head(a, int64_t(h), t);
    });
}

void ssd_scan_fast(const SsdArgs& a) {
  const int64_t L = std::max<int64_t>(1, a.chunk);
  for (int64_t c0 = 0; c0 < a.T; c0 += L) {
    const int64_t Lc = std::min(L, a.T - c0);
    parallel_for(size_t(a.G), 1, [&](size_t g0, size_t g1) {
      thread_local ScanScratch w;
      for (size_t g = g0; g < g1; g++) scan_chunk_group(a, c0, Lc, int64_t(g), w);
    });
  }
}

}  // namespace nl
