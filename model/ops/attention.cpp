// Causal GQA attention over a packed varlen batch, flash-attention style on the CPU.
// Forward: per (sequence, query head, block of kQueryBlock queries) walk key blocks of kKeyBlock keys
// below the diagonal, keeping a running max m, sum l and output accumulator per query row (online
// softmax); only lse = m + log l per (token, head) is stored, never a [T, T] matrix.
// Backward (FA2): recompute P = exp(S - lse) from the stored lse; Di = rowsum(dO * O);
// dV += P^T dO, dP = dO V^T, dS = P (dP - Di), dQ += dS K scale, dK += dS^T Q scale.
// Tested against a naive O(T^2) implementation and finite differences in tests/model/test_ops.cpp.
#include "model/ops/attention.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "model/ops/math.h"

namespace stride {

namespace {

constexpr int kQueryBlock = 16;  // query rows sharing one pass over a key block (K/V reuse in L1/L2)
constexpr int kKeyBlock = 64;    // keys scored at once; bounds the per-thread score scratch

inline float dot(const float* a, const float* b, int D) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < D; ++d) s += a[d] * b[d];
    return s;
}

inline void axpy(float* y, float a, const float* x, int D) {
#pragma omp simd
    for (int d = 0; d < D; ++d) y[d] += a * x[d];
}

// Per-thread scratch, grown once (no allocation in steady state).
std::vector<float>& thread_scratch(size_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf;
}

}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int* cu_seqlens, int n_seqs, int nq, int nkv, int D) {
    const int rep = nq / nkv;  // query heads per kv head
    const float scale = 1.0f / sqrtf((float)D);
    const size_t q_stride = (size_t)nq * D, kv_stride = (size_t)nkv * D;  // floats between tokens

    // Flatten (sequence, head, query block) into one task list for dynamic scheduling.
    int max_blocks = 0;
    for (int s = 0; s < n_seqs; ++s) {
        const int nb = (cu_seqlens[s + 1] - cu_seqlens[s] + kQueryBlock - 1) / kQueryBlock;
        if (nb > max_blocks) max_blocks = nb;
    }
    const long n_tasks = (long)n_seqs * nq * max_blocks;

#pragma omp parallel for schedule(dynamic, 1)
    for (long task = 0; task < n_tasks; ++task) {
        const int qb = (int)(task % max_blocks);
        const int h = (int)((task / max_blocks) % nq);
        const int s = (int)(task / ((long)max_blocks * nq));
        const int start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
        const int i0 = qb * kQueryBlock;
        if (i0 >= len) continue;
        const int i1 = i0 + kQueryBlock < len ? i0 + kQueryBlock : len;
        const int nrows = i1 - i0;
        const int kvh = h / rep;

        std::vector<float>& scratch = thread_scratch((size_t)kQueryBlock * (D + kKeyBlock + 2));
        float* acc = scratch.data();                     // [kQueryBlock, D]
        float* S = acc + (size_t)kQueryBlock * D;        // [kQueryBlock, kKeyBlock]
        float* m = S + (size_t)kQueryBlock * kKeyBlock;  // [kQueryBlock] running max
        float* l = m + kQueryBlock;                      // [kQueryBlock] running sum
        std::memset(acc, 0, sizeof(float) * (size_t)nrows * D);
        for (int r = 0; r < nrows; ++r) m[r] = -INFINITY, l[r] = 0.0f;

        for (int j0 = 0; j0 < i1; j0 += kKeyBlock) {  // causal: keys up to the last query row
            const int j1 = j0 + kKeyBlock < i1 ? j0 + kKeyBlock : i1;
            for (int r = 0; r < nrows; ++r) {
                const int i = i0 + r;
                const int jend = j1 < i + 1 ? j1 : i + 1;  // keys j <= i
                if (jend <= j0) continue;
                const float* qi = q + (size_t)(start + i) * q_stride + (size_t)h * D;
                float* Sr = S + (size_t)r * kKeyBlock;
                float bmax = -INFINITY;
                for (int j = j0; j < jend; ++j) {
                    const float sc =
                        dot(qi, k + (size_t)(start + j) * kv_stride + (size_t)kvh * D, D) * scale;
                    Sr[j - j0] = sc;
                    bmax = sc > bmax ? sc : bmax;
                }
                // Online softmax: rescale what we have to the new max, then add this block.
                const float mnew = m[r] > bmax ? m[r] : bmax;
                const float corr = expf(m[r] - mnew);
                float* ar = acc + (size_t)r * D;
                if (corr != 1.0f) {
#pragma omp simd
                    for (int d = 0; d < D; ++d) ar[d] *= corr;
                }
                float bsum = 0.0f;
                for (int j = j0; j < jend; ++j) {
                    const float p = expf(Sr[j - j0] - mnew);
                    bsum += p;
                    axpy(ar, p, v + (size_t)(start + j) * kv_stride + (size_t)kvh * D, D);
                }
                l[r] = l[r] * corr + bsum;
                m[r] = mnew;
            }
        }
        for (int r = 0; r < nrows; ++r) {
            const int t = start + i0 + r;
            float* o = out + (size_t)t * q_stride + (size_t)h * D;
            const float inv = 1.0f / l[r];
            const float* ar = acc + (size_t)r * D;
#pragma omp simd
            for (int d = 0; d < D; ++d) o[d] = ar[d] * inv;
            lse[(size_t)t * nq + h] = m[r] + logf(l[r]);
        }
    }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v,
                        const int* cu_seqlens, int n_seqs, int nq, int nkv, int D) {
    const int rep = nq / nkv;
    const float scale = 1.0f / sqrtf((float)D);
    const size_t q_stride = (size_t)nq * D, kv_stride = (size_t)nkv * D;
    const int T = cu_seqlens[n_seqs];

    // Di = rowsum(dO * O) per (token, query head); kept in a per-call scratch [T, nq].
    std::vector<float>& Dbuf = thread_scratch((size_t)T * nq);
    float* Di = Dbuf.data();
#pragma omp parallel for
    for (int t = 0; t < T; ++t)
        for (int h = 0; h < nq; ++h)
            Di[(size_t)t * nq + h] = dot(dout + (size_t)t * q_stride + (size_t)h * D,
                                         out + (size_t)t * q_stride + (size_t)h * D, D);

    // One task per (sequence, kv head): it alone writes dK/dV of that kv head and dQ of the query heads
    // reading it, so there are no races and the result does not depend on the thread count.
    const int n_tasks = n_seqs * nkv;
#pragma omp parallel for schedule(dynamic, 1)
    for (int task = 0; task < n_tasks; ++task) {
        const int s = task / nkv, kvh = task % nkv;
        const int start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
        for (int t = start; t < start + len; ++t) {
            std::memset(dk + (size_t)t * kv_stride + (size_t)kvh * D, 0, sizeof(float) * D);
            std::memset(dv + (size_t)t * kv_stride + (size_t)kvh * D, 0, sizeof(float) * D);
            for (int h = kvh * rep; h < (kvh + 1) * rep; ++h)
                std::memset(dq + (size_t)t * q_stride + (size_t)h * D, 0, sizeof(float) * D);
        }
        // Key blocks outer (their K, V, dK, dV stay in cache), then every query row at or after them.
        for (int j0 = 0; j0 < len; j0 += kKeyBlock) {
            const int j1 = j0 + kKeyBlock < len ? j0 + kKeyBlock : len;
            for (int h = kvh * rep; h < (kvh + 1) * rep; ++h) {
                for (int i = j0; i < len; ++i) {
                    const size_t ti = (size_t)(start + i);
                    const float* qi = q + ti * q_stride + (size_t)h * D;
                    const float* doi = dout + ti * q_stride + (size_t)h * D;
                    float* dqi = dq + ti * q_stride + (size_t)h * D;
                    const float lse_i = lse[ti * nq + h];
                    const float D_i = Di[ti * nq + h];
                    const int jend = j1 < i + 1 ? j1 : i + 1;
                    for (int j = j0; j < jend; ++j) {
                        const size_t tj = (size_t)(start + j) * kv_stride + (size_t)kvh * D;
                        const float p = expf(dot(qi, k + tj, D) * scale - lse_i);
                        const float dp = dot(doi, v + tj, D);
                        const float ds = p * (dp - D_i) * scale;
                        axpy(dv + tj, p, doi, D);
                        axpy(dk + tj, ds, qi, D);
                        axpy(dqi, ds, k + tj, D);
                    }
                }
            }
        }
    }
}

}  // namespace stride
