#include "model/ops/paged_attention.h"

#include <cmath>
#include <string>

#include "common/base/error.h"

namespace stride {

void paged_attention_forward(float* out, const float* q, const float* k_cache, const float* v_cache,
                             size_t block_stride, const int* block_tables, int max_blocks,
                             const int* token_seq, const int* token_pos, int T, int nq, int nkv, int D,
                             int block_size) {
    STRIDE_CHECK(block_size > 0 && block_size <= kPagedAttentionMaxBlock,
                 "paged_attention_forward: block_size " + std::to_string(block_size) + " outside [1, " +
                     std::to_string(kPagedAttentionMaxBlock) + "]");
    STRIDE_CHECK(nkv > 0 && nq % nkv == 0,
                 "paged_attention_forward: query heads must be a multiple of kv heads");
    const int n_rep = nq / nkv;
    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const size_t token_stride = static_cast<size_t>(nkv) * D;  // floats between consecutive tokens in a block

#pragma omp parallel for collapse(2) schedule(dynamic, 4)
    for (int t = 0; t < T; ++t) {
        for (int h = 0; h < nq; ++h) {
            const float* qh = q + (static_cast<size_t>(t) * nq + h) * D;
            float* oh = out + (static_cast<size_t>(t) * nq + h) * D;
            const int* table = block_tables + static_cast<size_t>(token_seq[t]) * max_blocks;
            const int kvh = h / n_rep;
            const int n_keys = token_pos[t] + 1;  // causal: positions 0..pos inclusive

            float m = -INFINITY;  // running max of scores
            float l = 0.0f;       // running sum of exp(score - m)
            for (int d = 0; d < D; ++d) oh[d] = 0.0f;

            float scores[kPagedAttentionMaxBlock];
            for (int start = 0; start < n_keys; start += block_size) {
                const int block = table[start / block_size];
                const int count = n_keys - start < block_size ? n_keys - start : block_size;
                const float* kb = k_cache + static_cast<size_t>(block) * block_stride + kvh * D;
                const float* vb = v_cache + static_cast<size_t>(block) * block_stride + kvh * D;

                float block_max = -INFINITY;
                for (int i = 0; i < count; ++i) {
                    const float* kr = kb + i * token_stride;
                    float s = 0.0f;
                    for (int d = 0; d < D; ++d) s += qh[d] * kr[d];
                    s *= scale;
                    scores[i] = s;
                    block_max = s > block_max ? s : block_max;
                }
                // Rescale what we have so far to the new running max, then add this block.
                float m_new = m > block_max ? m : block_max;
                float correction = expf(m - m_new);  // 0 on the first block (m = -inf)
                l *= correction;
                for (int d = 0; d < D; ++d) oh[d] *= correction;
                for (int i = 0; i < count; ++i) {
                    float p = expf(scores[i] - m_new);
                    l += p;
                    const float* vr = vb + i * token_stride;
                    for (int d = 0; d < D; ++d) oh[d] += p * vr[d];
                }
                m = m_new;
            }
            const float inv_l = 1.0f / l;
            for (int d = 0; d < D; ++d) oh[d] *= inv_l;
        }
    }
}

}  // namespace stride
