#include "model/ops/paged_attention.h"

#include <cmath>
#include <string>

#include "common/base/error.h"
#include "model/ops/cpu_vec.h"
#include "model/ops/vec_exp.h"

namespace stride {

namespace {

template <class KV>
void paged_attention(float* out, const float* q, const KV* k_cache, const KV* v_cache, size_t block_stride,
                     const int* block_tables, int max_blocks, const int* token_seq, const int* token_pos,
                     int T, int nq, int nkv, int D, int block_size) {
    STRIDE_CHECK(block_size > 0 && block_size <= kPagedAttentionMaxBlock,
                 "paged_attention_forward: block_size " + std::to_string(block_size) + " outside [1, " +
                     std::to_string(kPagedAttentionMaxBlock) + "]");
    STRIDE_CHECK(nkv > 0 && nq % nkv == 0,
                 "paged_attention_forward: query heads must be a multiple of kv heads");
    const int n_rep = nq / nkv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const size_t token_stride =
        static_cast<size_t>(nkv) * D;  // elements between consecutive tokens in a block

    // One task per new token, all its heads together: each cache block of the sequence is walked once
    // (contiguous [block_size][nkv][D] rows, which the prefetcher streams) and stays in L1 while every
    // head scores it. Per (token, head) the softmax runs online one block at a time. At decode the
    // cache read is the cost (every step reads the whole context of every sequence); with one task per
    // (token, head) each task read a head's D floats out of every token's row, and stalled on memory.
#pragma omp parallel for schedule(dynamic, 1)
    for (int t = 0; t < T; ++t) {
        const int* table = block_tables + static_cast<size_t>(token_seq[t]) * max_blocks;
        const int n_keys = token_pos[t] + 1;  // causal: positions 0..pos inclusive
        float* state = thread_floats(2 * static_cast<size_t>(nq) + static_cast<size_t>(nq) * block_size);
        float* m = state;        // [nq] running max of scores
        float* l = m + nq;       // [nq] running sum of exp(score - m)
        float* scores = l + nq;  // [nq, block_size] scores of a block, then probabilities
        for (int h = 0; h < nq; ++h) m[h] = -INFINITY, l[h] = 0.0f;
        float* ot = out + static_cast<size_t>(t) * nq * D;
        const float* qt = q + static_cast<size_t>(t) * nq * D;
        for (size_t i = 0; i < static_cast<size_t>(nq) * D; ++i) ot[i] = 0.0f;

        for (int start = 0; start < n_keys; start += block_size) {
            const int block = table[start / block_size];
            const int count = n_keys - start < block_size ? n_keys - start : block_size;
            const KV* kb = k_cache + static_cast<size_t>(block) * block_stride;
            const KV* vb = v_cache + static_cast<size_t>(block) * block_stride;
            // Keys in order, all heads of each key's row (nkv * D contiguous elements) before the next.
            for (int i = 0; i < count; ++i) {
                const KV* kr = kb + i * token_stride;
                for (int h = 0; h < nq; ++h)
                    scores[h * block_size + i] =
                        vec_dot(qt + static_cast<size_t>(h) * D, kr + (h / n_rep) * D, D) * scale;
            }
            for (int h = 0; h < nq; ++h) {
                float* sh = scores + h * block_size;
                float block_max = -INFINITY;
#pragma omp simd reduction(max : block_max)
                for (int i = 0; i < count; ++i) block_max = sh[i] > block_max ? sh[i] : block_max;
                // Rescale what we have so far to the new running max, then add this block.
                const float m_new = m[h] > block_max ? m[h] : block_max;
                const float correction = vec_expf(m[h] - m_new);  // ~0 on the first block (m = -inf, l = 0)
                float block_sum = 0.0f;
#pragma omp simd reduction(+ : block_sum)
                for (int i = 0; i < count; ++i) {
                    sh[i] = vec_expf(sh[i] - m_new);
                    block_sum += sh[i];
                }
                if (correction != 1.0f) {
                    float* oh = ot + static_cast<size_t>(h) * D;
#pragma omp simd
                    for (int d = 0; d < D; ++d) oh[d] *= correction;
                }
                l[h] = l[h] * correction + block_sum;
                m[h] = m_new;
            }
            // Values in order likewise: o_h += p_h[i] * v_i for every head of each row.
            for (int i = 0; i < count; ++i) {
                const KV* vr = vb + i * token_stride;
                for (int h = 0; h < nq; ++h) {
                    float* oh = ot + static_cast<size_t>(h) * D;
                    const float p = scores[h * block_size + i];
                    const KV* vh = vr + (h / n_rep) * D;
#pragma omp simd
                    for (int d = 0; d < D; ++d) oh[d] += p * to_f32(vh[d]);
                }
            }
        }
        for (int h = 0; h < nq; ++h) {
            float* oh = ot + static_cast<size_t>(h) * D;
            const float inv_l = 1.0f / l[h];
#pragma omp simd
            for (int d = 0; d < D; ++d) oh[d] *= inv_l;
        }
    }
}

}  // namespace

void paged_attention_forward(float* out, const float* q, const float* k_cache, const float* v_cache,
                             size_t block_stride, const int* block_tables, int max_blocks,
                             const int* token_seq, const int* token_pos, int T, int nq, int nkv, int D,
                             int block_size) {
    paged_attention(out, q, k_cache, v_cache, block_stride, block_tables, max_blocks, token_seq, token_pos, T,
                    nq, nkv, D, block_size);
}

void paged_attention_forward_bf16(float* out, const float* q, const uint16_t* k_cache,
                                  const uint16_t* v_cache, size_t block_stride, const int* block_tables,
                                  int max_blocks, const int* token_seq, const int* token_pos, int T, int nq,
                                  int nkv, int D, int block_size) {
    paged_attention(out, q, k_cache, v_cache, block_stride, block_tables, max_blocks, token_seq, token_pos, T,
                    nq, nkv, D, block_size);
}

}  // namespace stride
