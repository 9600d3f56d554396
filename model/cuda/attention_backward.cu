// Attention backward over a packed varlen causal batch with GQA, flash-attention-2's algorithm in two
// deterministic passes (as FA2's deterministic mode and Triton's fused-attention tutorial):
//   1. dq pass, one block per (16 query rows, query head): each warp owns one query row t, computes
//      D_t = dO_t . O_t (kept in `delta` for pass 2), then walks the keys of t's sequence up to t
//      through shared-memory K/V tiles: P = exp(q.k scale - lse_t), dP = dO_t . v,
//      dS = P (dP - D_t) (attention_dscore, model/ops/math.h), dq_t = scale * sum dS k.
//   2. dk/dv pass, one block per (16 keys, kv head): each warp owns one key row j, and walks every
//      query head of the group and the queries of j's sequence from j on through shared-memory Q/dO
//      tiles: dv_j = sum P dO, dk_j = scale * sum dS q.
// P is recomputed from q, k and the forward's lse in both passes; only [16, D]-row tiles and D_t
// ([T, nq] floats) exist, never a [T, T] matrix. Each gradient row has one owner warp, so there are
// no atomics and results are bit-identical run to run. Rows of one block may belong to two
// sequences: the block's tile range is the union of its rows' ranges and each warp masks its own.
// fp32 on CUDA cores, one warp per row as the forward (attention.cu); tensor-core tiles are the
// optimisation left for later. Checked against the CPU by tests/model/test_backend_ops.cpp.
#include "model/cuda/attention.h"
#include "model/cuda/attention_backward.h"
#include "model/cuda/attention_row.cuh"
#include "model/cuda/cuda_check.h"

namespace stride::cuda {

namespace {

constexpr int kWarps = 16;  // rows (pass 1) or keys (pass 2) per block, one per warp
constexpr int kThreads = 32 * kWarps;
constexpr int kTileFloats = 4096;  // a shared tile holds kTileFloats / D rows (16 KB)
constexpr int kMaxTileRows = 128;  // rows per tile when D is small

int tile_rows(int D) {
    return kTileFloats / D < kMaxTileRows ? kTileFloats / D : kMaxTileRows;
}

// Copies rows [r0, r0 + n) of a [*, row_stride] matrix at column offset col (D floats each) into the
// shared tile dst[n, D], scaled; all threads of the block take part.
__device__ void load_tile(float* dst, const float* src, size_t row_stride, size_t col, int r0, int n, int D,
                          float scale) {
    for (int e = threadIdx.x; e < n * D; e += blockDim.x) {
        const int r = e / D, d = e % D;
        dst[e] = src[(size_t)(r0 + r) * row_stride + col + d] * scale;
    }
}

// sum_d a[d] * row[d] over the warp: `a` holds this lane's dims lane, lane + 32, ...
__device__ __forceinline__ float warp_dot(const float (&a)[kLaneDims], const float* row, int D) {
    const int lane = threadIdx.x % 32;
    float part = 0.0f;
    for (int i = 0; i < kLaneDims; ++i) {
        const int d = lane + 32 * i;
        if (d < D) part += a[i] * row[d];
    }
    return warp_sum(part);
}

// acc[d] += w * row[d] over this lane's dims.
__device__ __forceinline__ void warp_axpy(float (&acc)[kLaneDims], float w, const float* row, int D) {
    const int lane = threadIdx.x % 32;
    for (int i = 0; i < kLaneDims; ++i) {
        const int d = lane + 32 * i;
        if (d < D) acc[i] += w * row[d];
    }
}

// This lane's dims of row[D], times scale (zero past D).
__device__ __forceinline__ void load_lane_dims(float (&a)[kLaneDims], const float* row, int D, float scale) {
    const int lane = threadIdx.x % 32;
    for (int i = 0; i < kLaneDims; ++i) {
        const int d = lane + 32 * i;
        a[i] = d < D ? row[d] * scale : 0.0f;
    }
}

__device__ __forceinline__ void store_lane_dims(float* row, const float (&a)[kLaneDims], int D, float scale) {
    const int lane = threadIdx.x % 32;
    for (int i = 0; i < kLaneDims; ++i) {
        const int d = lane + 32 * i;
        if (d < D) row[d] = a[i] * scale;
    }
}

// Pass 1: dq[T, nq, D] (assigned) and delta[T, nq]. grid = (ceil(T / kWarps), nq).
__global__ void __launch_bounds__(kThreads)
    attention_backward_dq_kernel(float* dq, float* delta, const float* dout, const float* out,
                                 const float* lse, const float* q, const float* k, const float* v,
                                 const int* cu_seqlens, int n_seqs, int T, int nq, int nkv, int D,
                                 float scale, int tile) {
    __shared__ float ks[kTileFloats];  // [tile, D] keys of kv head kvh
    __shared__ float vs[kTileFloats];  // [tile, D] values
    const int h = blockIdx.y, kvh = h / (nq / nkv);
    const int t_first = blockIdx.x * kWarps;
    const int t_last = min(t_first + kWarps, T) - 1;
    const int t = t_first + threadIdx.x / 32;
    const bool active = t < T;  // warps past T still load tiles and meet every barrier
    const size_t row = (size_t)(active ? t : t_last) * nq + h;

    float qr[kLaneDims], dor[kLaneDims], acc[kLaneDims] = {};
    load_lane_dims(qr, q + row * D, D, scale);  // scaled as the forward scales it (attention_row.cuh)
    load_lane_dims(dor, dout + row * D, D, 1.0f);
    const float delta_t = warp_dot(dor, out + row * D, D);
    const float lse_t = lse[row];
    if (active && threadIdx.x % 32 == 0) delta[row] = delta_t;
    const int start = cu_seqlens[sequence_of(cu_seqlens, n_seqs, active ? t : t_last)];
    const int j_begin = cu_seqlens[sequence_of(cu_seqlens, n_seqs, t_first)];  // earliest key any row sees

    const size_t kv_stride = (size_t)nkv * D;
    for (int j0 = j_begin; j0 <= t_last; j0 += tile) {
        const int n = min(tile, t_last + 1 - j0);
        __syncthreads();  // every warp is done with the previous tile
        load_tile(ks, k, kv_stride, (size_t)kvh * D, j0, n, D, 1.0f);
        load_tile(vs, v, kv_stride, (size_t)kvh * D, j0, n, D, 1.0f);
        __syncthreads();
        if (!active) continue;
        const int lo = max(j0, start), hi = min(j0 + n, t + 1);  // keys of t's sequence, causal
        for (int j = lo; j < hi; ++j) {
            const float* kr = ks + (size_t)(j - j0) * D;
            const float s = warp_dot(qr, kr, D);
            const float dp = warp_dot(dor, vs + (size_t)(j - j0) * D, D);
            warp_axpy(acc, attention_dscore(expf(s - lse_t), dp, delta_t), kr, D);
        }
    }
    if (active) store_lane_dims(dq + row * D, acc, D, scale);
}

// Pass 2: dk, dv[T, nkv, D] (assigned). grid = (ceil(T / kWarps), nkv). Reads pass 1's delta.
__global__ void __launch_bounds__(kThreads)
    attention_backward_dkdv_kernel(float* dk, float* dv, const float* delta, const float* dout,
                                   const float* lse, const float* q, const float* k, const float* v,
                                   const int* cu_seqlens, int n_seqs, int T, int nq, int nkv, int D,
                                   float scale, int tile) {
    __shared__ float qs[kTileFloats];   // [tile, D] queries of head h, times scale
    __shared__ float dos[kTileFloats];  // [tile, D] their output gradients
    __shared__ float lse_s[kMaxTileRows];
    __shared__ float delta_s[kMaxTileRows];
    const int kvh = blockIdx.y, rep = nq / nkv;
    const int j_first = blockIdx.x * kWarps;
    const int j_last = min(j_first + kWarps, T) - 1;
    const int j = j_first + threadIdx.x / 32;
    const bool active = j < T;
    const size_t kv_row = ((size_t)(active ? j : j_last) * nkv + kvh) * D;

    float kr[kLaneDims], vr[kLaneDims], dka[kLaneDims] = {}, dva[kLaneDims] = {};
    load_lane_dims(kr, k + kv_row, D, 1.0f);
    load_lane_dims(vr, v + kv_row, D, 1.0f);
    const int end = cu_seqlens[sequence_of(cu_seqlens, n_seqs, active ? j : j_last) + 1];
    const int i_end = cu_seqlens[sequence_of(cu_seqlens, n_seqs, j_last) + 1];  // last query any key sees

    const size_t q_stride = (size_t)nq * D;
    for (int g = 0; g < rep; ++g) {
        const int h = kvh * rep + g;
        for (int i0 = j_first; i0 < i_end; i0 += tile) {
            const int n = min(tile, i_end - i0);
            __syncthreads();  // every warp is done with the previous tile
            load_tile(qs, q, q_stride, (size_t)h * D, i0, n, D, scale);
            load_tile(dos, dout, q_stride, (size_t)h * D, i0, n, D, 1.0f);
            for (int r = threadIdx.x; r < n; r += blockDim.x) {
                lse_s[r] = lse[(size_t)(i0 + r) * nq + h];
                delta_s[r] = delta[(size_t)(i0 + r) * nq + h];
            }
            __syncthreads();
            if (!active) continue;
            const int lo = max(i0, j), hi = min(i0 + n, end);  // queries of j's sequence at or after j
            for (int i = lo; i < hi; ++i) {
                const float* qi = qs + (size_t)(i - i0) * D;
                const float* doi = dos + (size_t)(i - i0) * D;
                const float p = expf(warp_dot(kr, qi, D) - lse_s[i - i0]);
                const float dp = warp_dot(vr, doi, D);
                warp_axpy(dva, p, doi, D);
                warp_axpy(dka, attention_dscore(p, dp, delta_s[i - i0]), qi, D);  // qi carries the scale
            }
        }
    }
    if (!active) return;
    store_lane_dims(dk + kv_row, dka, D, 1.0f);
    store_lane_dims(dv + kv_row, dva, D, 1.0f);
}

}  // namespace

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                        const float* lse, const float* q, const float* k, const float* v,
                        const int* cu_seqlens, int n_seqs, int T, int nq, int nkv, int D, float* delta,
                        cudaStream_t stream) {
    if (T == 0 || n_seqs == 0) return;
    STRIDE_CHECK(
        D > 0 && D <= kMaxHeadDim && nkv > 0 && nq % nkv == 0,
        "cuda attention_backward: head_dim must be in [1, 256] and heads a multiple of kv heads (D=" +
            std::to_string(D) + ", nq=" + std::to_string(nq) + ", nkv=" + std::to_string(nkv) + ")");
    STRIDE_CHECK(delta != nullptr, "cuda attention_backward: the delta scratch is required");
    const float scale = 1.0f / sqrtf((float)D);
    const int blocks = ceil_div(T, kWarps);
    attention_backward_dq_kernel<<<dim3(blocks, nq), kThreads, 0, stream>>>(
        dq, delta, dout, out, lse, q, k, v, cu_seqlens, n_seqs, T, nq, nkv, D, scale, tile_rows(D));
    STRIDE_CUDA_LAUNCH_CHECK();
    attention_backward_dkdv_kernel<<<dim3(blocks, nkv), kThreads, 0, stream>>>(
        dk, dv, delta, dout, lse, q, k, v, cu_seqlens, n_seqs, T, nq, nkv, D, scale, tile_rows(D));
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace stride::cuda
