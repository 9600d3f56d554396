// Causal GQA attention over a packed varlen batch, flash-attention style on the CPU.
// Forward: one task per (sequence, kv head, block of kQueryBlock queries). It walks the key blocks at
// or below the diagonal; each key block is transposed once into Kt[D, kKeyBlock] and reused by every
// query head of the group, so the score loop runs contiguously over keys (vectorises). Per query row it
// keeps a running max m, sum l and output accumulator (online softmax) and finally stores only
// lse = m + log l per (token, head): no [T, T] matrix exists.
// Backward (FA2): one task per (sequence, kv head), which alone owns dK/dV of that kv head and dQ of
// its query heads (no races, thread-count independent). Per key block: recompute P = exp(S - lse),
// Di = rowsum(dO * O), dV += P^T dO, dP = dO V^T, dS = P (dP - Di), dQ += dS K scale, dK += dS^T Q scale,
// with dK/dV accumulated transposed, kRowGroup query rows at a time (updates run over contiguous keys).
// Tested against a naive O(T^2) implementation and finite differences in tests/model/test_ops.cpp.
#include "model/ops/attention.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "model/ops/cpu_vec.h"
#include "model/ops/math.h"
#include "model/ops/vec_exp.h"

namespace stride {

namespace {

constexpr int kQueryBlock = 32;  // query rows per forward task
constexpr int kKeyBlock = 64;    // keys per block; Kt/Vt/dKt/dVt are [D, kKeyBlock]
constexpr int kRowGroup = 4;     // backward: query rows sharing one pass over the dK/dV block

// dst[d, c] = src[c * stride + d] for c < n: a key block, transposed; columns n.. are zero padding so
// that block_scores can always run over the full, fixed-width block.
void transpose_block(float* dst, const float* src, size_t stride, int n, int D) {
    if (n < kKeyBlock) std::memset(dst, 0, sizeof(float) * (size_t)D * kKeyBlock);
    for (int c = 0; c < n; ++c)
        for (int d = 0; d < D; ++d) dst[(size_t)d * kKeyBlock + c] = src[(size_t)c * stride + d];
}

// S[c] = sum_d q[d] * Kt[d, c] over the first W columns. The fixed width lets the compiler keep the
// accumulator row in vector registers across the D loop.
template <int W>
inline void block_scores_w(float* S, const float* q, const float* Kt, int D) {
    float acc[W] = {};
    for (int d = 0; d < D; ++d) {
        const float qd = q[d];
        const float* kd = Kt + (size_t)d * kKeyBlock;
#pragma omp simd
        for (int c = 0; c < W; ++c) acc[c] += qd * kd[c];
    }
    for (int c = 0; c < W; ++c) S[c] = acc[c];
}

// out[d] += sum_{c < n} w[c] * x[c * stride + d]. Blocks of kDimBlock output values stay in registers
// while the n weighted rows stream through (P.V in forward, dS.K for dQ in backward).
constexpr int kDimBlock = 32;
inline void add_weighted_rows(float* out, const float* w, const float* x, size_t stride, int n, int D) {
    int d0 = 0;
    for (; d0 + kDimBlock <= D; d0 += kDimBlock) {
        // Two accumulator sets (even / odd rows) so consecutive FMAs do not wait on each other.
        float o[kDimBlock], o2[kDimBlock];
        for (int k = 0; k < kDimBlock; ++k) o[k] = out[d0 + k], o2[k] = 0.0f;
        int c = 0;
        for (; c + 2 <= n; c += 2) {
            const float wa = w[c], wb = w[c + 1];
            const float* xa = x + (size_t)c * stride + d0;
            const float* xb = xa + stride;
#pragma omp simd
            for (int k = 0; k < kDimBlock; ++k) {
                o[k] += wa * xa[k];
                o2[k] += wb * xb[k];
            }
        }
        if (c < n) {
            const float wa = w[c];
            const float* xa = x + (size_t)c * stride + d0;
#pragma omp simd
            for (int k = 0; k < kDimBlock; ++k) o[k] += wa * xa[k];
        }
        for (int k = 0; k < kDimBlock; ++k) out[d0 + k] = o[k] + o2[k];
    }
    for (; d0 + 8 <= D; d0 += 8) {  // head dims that are not a multiple of 32 (tests, odd models)
        float o[8];
        for (int k = 0; k < 8; ++k) o[k] = out[d0 + k];
        for (int c = 0; c < n; ++c) {
            const float wc = w[c];
            const float* xr = x + (size_t)c * stride + d0;
#pragma omp simd
            for (int k = 0; k < 8; ++k) o[k] += wc * xr[k];
        }
        for (int k = 0; k < 8; ++k) out[d0 + k] = o[k];
    }
    for (; d0 < D; ++d0) {
        float o = out[d0];
        for (int c = 0; c < n; ++c) o += w[c] * x[(size_t)c * stride + d0];
        out[d0] = o;
    }
}

// Columns a row actually needs, rounded up to the vector width: rows of short sequences and rows near
// the diagonal see few keys, and scoring all kKeyBlock columns cost them up to 4x the work.
constexpr int kWidthStep = 16;
inline int block_width(int n) {
    return (n + kWidthStep - 1) / kWidthStep * kWidthStep;
}

// S[c] for c < block_width(n) (columns past the block's keys are the zero padding of Kt).
inline void block_scores(float* S, const float* q, const float* Kt, int D, int n) {
    switch (block_width(n)) {
        case 16:
            return block_scores_w<16>(S, q, Kt, D);
        case 32:
            return block_scores_w<32>(S, q, Kt, D);
        case 48:
            return block_scores_w<48>(S, q, Kt, D);
        default:
            return block_scores_w<kKeyBlock>(S, q, Kt, D);
    }
}
static_assert(kKeyBlock == 4 * kWidthStep, "block_scores dispatches widths 16, 32, 48, 64");

}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int* cu_seqlens, int n_seqs, int nq, int nkv, int D) {
    const int rep = nq / nkv;  // query heads per kv head
    const float scale = 1.0f / sqrtf((float)D);
    const size_t q_stride = (size_t)nq * D, kv_stride = (size_t)nkv * D;  // floats between tokens

    int max_blocks = 0;
    for (int s = 0; s < n_seqs; ++s) {
        const int nb = (cu_seqlens[s + 1] - cu_seqlens[s] + kQueryBlock - 1) / kQueryBlock;
        if (nb > max_blocks) max_blocks = nb;
    }
    // Longest work first: the last query blocks see the most keys.
    const long n_tasks = (long)n_seqs * nkv * max_blocks;
#pragma omp parallel for schedule(dynamic, 1)
    for (long task = 0; task < n_tasks; ++task) {
        const int qb = max_blocks - 1 - (int)(task % max_blocks);
        const int kvh = (int)((task / max_blocks) % nkv);
        const int s = (int)(task / ((long)max_blocks * nkv));
        const int start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
        const int i0 = qb * kQueryBlock;
        if (i0 >= len) continue;
        const int i1 = i0 + kQueryBlock < len ? i0 + kQueryBlock : len;
        const int nrows = i1 - i0;

        const size_t acc_n = (size_t)rep * kQueryBlock * D;
        float* acc = thread_floats(acc_n + (size_t)D * kKeyBlock + kKeyBlock + 2 * (size_t)rep * kQueryBlock);
        float* Kt = acc + acc_n;                     // [D, kKeyBlock]
        float* S = Kt + (size_t)D * kKeyBlock;       // [kKeyBlock] scores of one row
        float* m = S + kKeyBlock;                    // [rep, kQueryBlock] running max
        float* l = m + (size_t)rep * kQueryBlock;    // [rep, kQueryBlock] running sum
        std::memset(acc, 0, sizeof(float) * acc_n);  // [rep, kQueryBlock, D]
        for (int r = 0; r < rep * kQueryBlock; ++r) m[r] = -INFINITY, l[r] = 0.0f;

        for (int j0 = 0; j0 < i1; j0 += kKeyBlock) {  // causal: keys up to the last query row
            const int j1 = j0 + kKeyBlock < i1 ? j0 + kKeyBlock : i1;
            transpose_block(Kt, k + (size_t)(start + j0) * kv_stride + (size_t)kvh * D, kv_stride, j1 - j0,
                            D);
            for (int g = 0; g < rep; ++g) {
                const int h = kvh * rep + g;
                for (int r = 0; r < nrows; ++r) {
                    const int i = i0 + r;
                    const int n = (j1 < i + 1 ? j1 : i + 1) - j0;  // keys j <= i in this block
                    if (n <= 0) continue;
                    block_scores(S, q + (size_t)(start + i) * q_stride + (size_t)h * D, Kt, D, n);
                    float bmax = -INFINITY;
#pragma omp simd reduction(max : bmax)
                    for (int c = 0; c < n; ++c) {
                        S[c] *= scale;
                        bmax = S[c] > bmax ? S[c] : bmax;
                    }
                    // Online softmax: rescale what we have to the new max, then add this block.
                    float& mr = m[g * kQueryBlock + r];
                    float& lr = l[g * kQueryBlock + r];
                    const float mnew = mr > bmax ? mr : bmax;
                    const float corr = vec_expf(mr - mnew);
                    float bsum = 0.0f;
#pragma omp simd reduction(+ : bsum)
                    for (int c = 0; c < n; ++c) {
                        S[c] = vec_expf(S[c] - mnew);
                        bsum += S[c];
                    }
                    float* ar = acc + ((size_t)g * kQueryBlock + r) * D;
                    if (corr != 1.0f) {
#pragma omp simd
                        for (int d = 0; d < D; ++d) ar[d] *= corr;
                    }
                    add_weighted_rows(ar, S, v + (size_t)(start + j0) * kv_stride + (size_t)kvh * D,
                                      kv_stride, n, D);
                    lr = lr * corr + bsum;
                    mr = mnew;
                }
            }
        }
        for (int g = 0; g < rep; ++g) {
            const int h = kvh * rep + g;
            for (int r = 0; r < nrows; ++r) {
                const int t = start + i0 + r;
                const float lr = l[g * kQueryBlock + r];
                float* o = out + (size_t)t * q_stride + (size_t)h * D;
                const float* ar = acc + ((size_t)g * kQueryBlock + r) * D;
                const float inv = 1.0f / lr;
#pragma omp simd
                for (int d = 0; d < D; ++d) o[d] = ar[d] * inv;
                lse[(size_t)t * nq + h] = m[g * kQueryBlock + r] + logf(lr);
            }
        }
    }
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v,
                        const int* cu_seqlens, int n_seqs, int nq, int nkv, int D) {
    const int rep = nq / nkv;
    const float scale = 1.0f / sqrtf((float)D);
    const size_t q_stride = (size_t)nq * D, kv_stride = (size_t)nkv * D;

    const int n_tasks = n_seqs * nkv;
#pragma omp parallel for schedule(dynamic, 1)
    for (int task = 0; task < n_tasks; ++task) {
        const int s = task / nkv, kvh = task % nkv;
        const int start = cu_seqlens[s], len = cu_seqlens[s + 1] - start;
        const size_t blk = (size_t)D * kKeyBlock;
        float* Kt = thread_floats(4 * blk + (2 * kRowGroup + 1) * kKeyBlock + (size_t)rep * len);
        float* Vt = Kt + blk;                    // [D, kKeyBlock]
        float* dKt = Vt + blk;                   // [D, kKeyBlock]
        float* dVt = dKt + blk;                  // [D, kKeyBlock]
        float* S = dVt + blk;                    // [kRowGroup, kKeyBlock] scores, then P
        float* dS = S + kRowGroup * kKeyBlock;   // [kRowGroup, kKeyBlock]
        float* dP = dS + kRowGroup * kKeyBlock;  // [kKeyBlock] dO . V^T of one row
        float* Di = dP + kKeyBlock;              // [rep, len] rowsum(dO * O)
        for (int g = 0; g < rep; ++g)
            for (int i = 0; i < len; ++i) {
                const size_t off = (size_t)(start + i) * q_stride + (size_t)(kvh * rep + g) * D;
                Di[(size_t)g * len + i] = vec_dot(dout + off, out + off, D);
                std::memset(dq + off, 0, sizeof(float) * D);
            }
        // Key blocks outer (their K, V, dK, dV stay in cache), then every query row at or after them.
        for (int j0 = 0; j0 < len; j0 += kKeyBlock) {
            const int j1 = j0 + kKeyBlock < len ? j0 + kKeyBlock : len;
            const size_t kv_off = (size_t)(start + j0) * kv_stride + (size_t)kvh * D;
            transpose_block(Kt, k + kv_off, kv_stride, j1 - j0, D);
            transpose_block(Vt, v + kv_off, kv_stride, j1 - j0, D);
            std::memset(dKt, 0, sizeof(float) * 2 * blk);  // dKt and dVt
            for (int g = 0; g < rep; ++g) {
                const int h = kvh * rep + g;
                // kRowGroup query rows at a time, so each dK/dV block row loaded is updated by several
                // rows before it is stored again (rank-kRowGroup instead of rank-1 updates).
                for (int i0 = j0; i0 < len; i0 += kRowGroup) {
                    // Keys the group's last row sees in this block, so the columns any row needs.
                    const int last = (i0 + kRowGroup < len ? i0 + kRowGroup : len) - 1;
                    const int W = block_width((j1 < last + 1 ? j1 : last + 1) - j0);
                    const float* qr[kRowGroup];
                    const float* dor[kRowGroup];
                    for (int r = 0; r < kRowGroup; ++r) {
                        const int i = i0 + r;
                        float* Sr = S + (size_t)r * kKeyBlock;
                        float* dSr = dS + (size_t)r * kKeyBlock;
                        const size_t off = (size_t)(start + (i < len ? i : i0)) * q_stride + (size_t)h * D;
                        qr[r] = q + off;
                        dor[r] = dout + off;
                        const int n = i < len ? (j1 < i + 1 ? j1 : i + 1) - j0 : 0;
                        if (n > 0) {
                            const float lse_i = lse[(size_t)(start + i) * nq + h];
                            const float D_i = Di[(size_t)g * len + i];
                            block_scores(Sr, qr[r], Kt, D, W);
                            block_scores(dP, dor[r], Vt, D, W);
#pragma omp simd
                            for (int c = 0; c < n; ++c) {
                                Sr[c] = vec_expf(Sr[c] * scale - lse_i);  // P
                                dSr[c] =
                                    attention_dscore(Sr[c], dP[c], D_i) * scale;  // score scale folded in
                            }
                            add_weighted_rows(dq + off, dSr, k + kv_off, kv_stride, n, D);
                        }
                        for (int c = n > 0 ? n : 0; c < W; ++c) Sr[c] = dSr[c] = 0.0f;  // no gradient
                    }
                    for (int d = 0; d < D;
                         ++d) {  // dKt[d, :] += sum_r dS[r, :] q_r[d]; dVt likewise with P, dO
                        float* dk_d = dKt + (size_t)d * kKeyBlock;
                        float* dv_d = dVt + (size_t)d * kKeyBlock;
                        float qd[kRowGroup], dod[kRowGroup];
                        for (int r = 0; r < kRowGroup; ++r) qd[r] = qr[r][d], dod[r] = dor[r][d];
#pragma omp simd
                        for (int c = 0; c < W; ++c) {
                            float ak = dk_d[c], av = dv_d[c];
                            for (int r = 0; r < kRowGroup; ++r) {
                                ak += dS[r * kKeyBlock + c] * qd[r];
                                av += S[r * kKeyBlock + c] * dod[r];
                            }
                            dk_d[c] = ak;
                            dv_d[c] = av;
                        }
                    }
                }
            }
            // This task owns these rows of dk/dv: write (assign) the finished block back.
            for (int c = 0; c < j1 - j0; ++c)
                for (int d = 0; d < D; ++d) {
                    dk[kv_off + (size_t)c * kv_stride + d] = dKt[(size_t)d * kKeyBlock + c];
                    dv[kv_off + (size_t)c * kv_stride + d] = dVt[(size_t)d * kKeyBlock + c];
                }
        }
    }
}

}  // namespace stride
