// Prefill attention backward on the GPU: same contract as attention_backward in model/ops/attention.h
// (device pointers; T = cu_seqlens[n_seqs] given on the host). Assigns dq, dk, dv. Flash-attention-2
// style: P is recomputed from q, k and the forward's lse, no [T, T] matrix exists; deterministic (no
// atomics: every gradient row is written by exactly one warp).
#pragma once
#include <cuda_runtime.h>

namespace stride::cuda {

// delta: scratch of T * nq floats on the device (D_i = rowsum(dO * O) per (token, head)).
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v,
                        const int* cu_seqlens, int n_seqs, int T, int nq, int nkv, int D, float* delta,
                        cudaStream_t stream);

}  // namespace stride::cuda
