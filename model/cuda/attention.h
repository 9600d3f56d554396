// Prefill attention on the GPU: causal grouped-query attention over a packed variable-length batch,
// same contract as model/ops/attention.h (device pointers; T = cu_seqlens[n_seqs] given on the host).
// Flash-style: an online softmax per (token, head), no [T, T] matrix; query head h reads kv head
// h / (nq / nkv) directly (no K/V copy).
#pragma once
#include <cuda_runtime.h>

namespace stride::cuda {

// Largest head_dim the kernels hold in registers (Qwen3 and Llama use 128).
constexpr int kMaxHeadDim = 256;

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int* cu_seqlens, int n_seqs, int T, int nq, int nkv, int D, cudaStream_t stream);

}  // namespace stride::cuda
