// Derived views of a forward computed only when a hook asks for them (on host memory, after
// the activations they need were copied out): the attention probabilities of an attention
// layer, and the "effective attention" of a Mamba-2 layer (the SSD scan written as the
// lower-triangular matrix it multiplies x by; Dao & Gu, "Transformers are SSMs", 2024).
// Both are O(T^2) per head; plain loops, threaded over heads.
#pragma once
#include <cstdint>

namespace nl {

// p (nq, T, T) = softmax over s <= t of scale * q_t . k_s (0 above the diagonal); the query head
// hq reads kv head hq / (nq / nkv). q (T, nq*hd), k (T, nkv*hd), fresh sequence (no past).
void attention_pattern(const float* q, const float* k, int64_t T, int64_t nq, int64_t nkv, int64_t hd, float scale,
                       float* p);

// M (nh, T, T): M[h,t,s] = (C_t . B_s) * exp(sum_{k=s+1..t} dt_k A_h) * dt_s for s <= t, 0 above,
// so y[t,h,:] = sum_s M[h,t,s] x[s,h,:] + D_h x[t,h,:] from a zero state. B and C (T, G*N) are
// those of the head's group (head h in group h / (nh / G)); dt (T, nh); A (nh).
void effective_attention(const float* B, const float* C, const float* dt, const float* A, int64_t T, int64_t nh,
                         int64_t G, int64_t N, float* M);

}  // namespace nl
