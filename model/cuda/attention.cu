// Prefill attention: one warp per (query token, head); the token finds its sequence by binary search
// in cu_seqlens and visits keys cu_seqlens[s] .. t (causal) with the online softmax of
// attention_row.cuh. Writes out = O / l and lse = m + log l (the CPU's log-sum-exp of scaled scores).
#include "model/cuda/attention.h"
#include "model/cuda/attention_row.cuh"
#include "model/cuda/cuda_check.h"

namespace stride::cuda {

namespace {

constexpr int kWarps = 4;

__global__ void attention_forward_kernel(float* out, float* lse, const float* q, const float* k,
                                         const float* v, const int* cu_seqlens, int n_seqs, int T, int nq,
                                         int nkv, int D, float scale) {
    const long long row = (long long)blockIdx.x * kWarps + threadIdx.x / 32;  // t * nq + h
    if (row >= (long long)T * nq) return;
    const int t = static_cast<int>(row / nq), h = static_cast<int>(row % nq);
    const int start = cu_seqlens[sequence_of(cu_seqlens, n_seqs, t)];
    const int kvh = h / (nq / nkv);
    const size_t kv_stride = (size_t)nkv * D;
    RowState st;
    st.load_query(q + (size_t)row * D, D, scale);
    for (int j = start; j <= t; ++j)
        st.visit(k + j * kv_stride + (size_t)kvh * D, v + j * kv_stride + (size_t)kvh * D, D);
    const int lane = threadIdx.x % 32;
    for (int i = 0; i < kLaneDims; ++i) {
        const int d = lane + 32 * i;
        if (d < D) out[(size_t)row * D + d] = st.o[i] / st.l;
    }
    if (lane == 0 && lse) lse[row] = st.m + logf(st.l);
}

}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int* cu_seqlens, int n_seqs, int T, int nq, int nkv, int D,
                       cudaStream_t stream) {
    if (T == 0 || n_seqs == 0) return;
    STRIDE_CHECK(D <= kMaxHeadDim && nkv > 0 && nq % nkv == 0,
                 "cuda attention_forward: head_dim must be <= 256 and heads a multiple of kv heads");
    const long long rows = (long long)T * nq;
    attention_forward_kernel<<<ceil_div(rows, kWarps), 32 * kWarps, 0, stream>>>(
        out, lse, q, k, v, cu_seqlens, n_seqs, T, nq, nkv, D, 1.0f / sqrtf((float)D));
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace stride::cuda
