// Causal grouped-query attention over a packed variable-length batch (flash-attention style
// online softmax; no [T, T] matrix is stored). Query head h reads kv head h / (Hq_heads / Hkv_heads).
// Sequences are delimited by cu_seqlens[n_seqs + 1] (prefix sums); attention never crosses them.
#pragma once

namespace stride {

// q[T, nq, D], k/v[T, nkv, D] -> out[T, nq, D]; lse[T, nq] (log-sum-exp of scaled scores) is kept
// for the backward pass. scale = 1/sqrt(D).
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int* cu_seqlens, int n_seqs, int nq, int nkv, int D);
// Assigns dq, dk, dv (same shapes as q, k, v).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v,
                        const int* cu_seqlens, int n_seqs, int nq, int nkv, int D);

}  // namespace stride
