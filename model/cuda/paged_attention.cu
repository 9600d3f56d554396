// Split-K paged attention. Pass 1, grid (T * nq rows / kWarps, splits): one warp per (row, split)
// visits the keys [split * kPartition, min(+kPartition, pos + 1)) through the block table and writes
// its unnormalised O, m and l. Pass 2: one warp per row merges the splits (lse_merge arithmetic):
// M = max m_s, L = sum l_s e^(m_s - M), out = sum O_s e^(m_s - M) / L. An empty split has m = -inf,
// l = 0, O = 0 and drops out of the merge.
#include "model/cuda/attention.h"
#include "model/cuda/attention_row.cuh"
#include "model/cuda/context.h"
#include "model/cuda/cuda_check.h"
#include "model/cuda/paged_attention.h"

namespace stride::cuda {

namespace {

constexpr int kWarps = 4;

template <class E>
__global__ void paged_partial_kernel(float* part_o, float* part_ml, const float* q, const E* k_cache,
                                     const E* v_cache, size_t block_stride, const int* block_tables,
                                     int max_blocks, const int* token_seq, const int* token_pos, int T,
                                     int nq, int nkv, int D, int block_size, int splits, float scale) {
    const long long row = (long long)blockIdx.x * kWarps + threadIdx.x / 32;  // t * nq + h
    if (row >= (long long)T * nq) return;
    const int split = blockIdx.y;
    const int t = static_cast<int>(row / nq), h = static_cast<int>(row % nq);
    const int kvh = h / (nq / nkv);
    const int* table = block_tables + (size_t)token_seq[t] * max_blocks;
    const int n_keys = token_pos[t] + 1;  // causal: positions 0..pos
    const int begin = split * kPartition;
    const int end = begin + kPartition < n_keys ? begin + kPartition : n_keys;
    const size_t token_stride = (size_t)nkv * D;
    RowState st;
    st.load_query(q + (size_t)row * D, D, scale);
    for (int p = begin; p < end; ++p) {
        const size_t off = (size_t)table[p / block_size] * block_stride +
                           (size_t)(p % block_size) * token_stride + (size_t)kvh * D;
        st.visit(k_cache + off, v_cache + off, D);
    }
    const int lane = threadIdx.x % 32;
    const size_t slot = (size_t)row * splits + split;
    for (int i = 0; i < kLaneDims; ++i) {
        const int d = lane + 32 * i;
        if (d < D) part_o[slot * D + d] = st.o[i];
    }
    if (lane == 0) part_ml[2 * slot] = st.m, part_ml[2 * slot + 1] = st.l;
}

__global__ void paged_merge_kernel(float* out, const float* part_o, const float* part_ml, int rows,
                                   int splits, int D) {
    const long long row = (long long)blockIdx.x * kWarps + threadIdx.x / 32;
    if (row >= rows) return;
    const float* ml = part_ml + (size_t)row * splits * 2;
    float M = -INFINITY;
    for (int s = 0; s < splits; ++s) M = fmaxf(M, ml[2 * s]);
    float L = 0.0f;
    for (int s = 0; s < splits; ++s) L += ml[2 * s + 1] * expf(ml[2 * s] - M);
    const int lane = threadIdx.x % 32;
    for (int d = lane; d < D; d += 32) {
        float acc = 0.0f;
        for (int s = 0; s < splits; ++s) {
            const float w = expf(ml[2 * s] - M);  // 0 for an empty split
            acc += w * part_o[((size_t)row * splits + s) * D + d];
        }
        out[(size_t)row * D + d] = acc / L;
    }
}

template <class E>
void paged(float* out, const float* q, const E* k_cache, const E* v_cache, size_t block_stride,
           const int* block_tables, int max_blocks, const int* token_seq, const int* token_pos, int T, int nq,
           int nkv, int D, int block_size, cudaStream_t stream) {
    if (T == 0) return;
    STRIDE_CHECK(D <= kMaxHeadDim && nkv > 0 && nq % nkv == 0,
                 "cuda paged_attention_forward: head_dim must be <= 256 and heads a multiple of kv heads");
    // The longest context any token can have is the table width; partitions past a token's own
    // position are empty and cost one early exit.
    const int splits = ceil_div((long long)max_blocks * block_size, kPartition);
    const long long rows = (long long)T * nq;
    float* part_o = static_cast<float*>(workspace_at_least((size_t)rows * splits * (D + 2) * sizeof(float)));
    float* part_ml = part_o + (size_t)rows * splits * D;
    const dim3 grid(ceil_div(rows, kWarps), splits);
    paged_partial_kernel<E><<<grid, 32 * kWarps, 0, stream>>>(
        part_o, part_ml, q, k_cache, v_cache, block_stride, block_tables, max_blocks, token_seq, token_pos, T,
        nq, nkv, D, block_size, splits, 1.0f / sqrtf((float)D));
    STRIDE_CUDA_LAUNCH_CHECK();
    paged_merge_kernel<<<ceil_div(rows, kWarps), 32 * kWarps, 0, stream>>>(out, part_o, part_ml, (int)rows,
                                                                           splits, D);
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace

void paged_attention_forward(float* out, const float* q, const float* k_cache, const float* v_cache,
                             size_t block_stride, const int* block_tables, int max_blocks,
                             const int* token_seq, const int* token_pos, int T, int nq, int nkv, int D,
                             int block_size, cudaStream_t stream) {
    paged(out, q, k_cache, v_cache, block_stride, block_tables, max_blocks, token_seq, token_pos, T, nq, nkv,
          D, block_size, stream);
}

void paged_attention_forward_bf16(float* out, const float* q, const uint16_t* k_cache,
                                  const uint16_t* v_cache, size_t block_stride, const int* block_tables,
                                  int max_blocks, const int* token_seq, const int* token_pos, int T, int nq,
                                  int nkv, int D, int block_size, cudaStream_t stream) {
    paged(out, q, k_cache, v_cache, block_stride, block_tables, max_blocks, token_seq, token_pos, T, nq, nkv,
          D, block_size, stream);
}

}  // namespace stride::cuda
