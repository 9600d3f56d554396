// The inner loop shared by prefill and decode attention: one warp owns one (query row, head); each
// lane holds D/32 of the query and of the output accumulator. Keys are visited one at a time with the
// online softmax of model/ops/math.h's lse_merge (running max m, running sum l, O rescaled). Simple
// and obviously correct first; tiling through shared memory is the optimisation left for later.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "model/cuda/reduce.cuh"
#include "model/ops/math.h"

namespace stride::cuda {

constexpr int kLaneDims = 8;  // D / 32 at most: head_dim <= 256

__device__ __forceinline__ float load_f32(const float* p) {
    return *p;
}
__device__ __forceinline__ float load_f32(const uint16_t* p) {
    return float_from_bf16(*p);
}

// The sequence of packed token t: the last s with cu_seqlens[s] <= t (binary search; cu_seqlens has
// n_seqs + 1 entries and cu_seqlens[0] = 0).
__device__ __forceinline__ int sequence_of(const int* cu_seqlens, int n_seqs, int t) {
    int lo = 0, hi = n_seqs - 1;
    while (lo < hi) {
        const int mid = (lo + hi + 1) / 2;
        if (cu_seqlens[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

struct RowState {
    float q[kLaneDims];
    float o[kLaneDims];  // unnormalised: sum_j exp(s_j - m) v_j
    float m = -INFINITY;
    float l = 0.0f;

    __device__ void load_query(const float* qrow, int D, float scale) {
        const int lane = threadIdx.x % 32;
        for (int i = 0; i < kLaneDims; ++i) {
            const int d = lane + 32 * i;
            q[i] = d < D ? qrow[d] * scale : 0.0f;
            o[i] = 0.0f;
        }
    }
    // One key/value row (D elements of E).
    template <class E>
    __device__ void visit(const E* krow, const E* vrow, int D) {
        const int lane = threadIdx.x % 32;
        float part = 0.0f;
        for (int i = 0; i < kLaneDims; ++i) {
            const int d = lane + 32 * i;
            if (d < D) part += q[i] * load_f32(krow + d);
        }
        const float s = warp_sum(part);
        const float m_new = fmaxf(m, s);
        const float corr = expf(m - m_new);  // 0 on the first key (m = -inf)
        const float p = expf(s - m_new);
        l = l * corr + p;
        for (int i = 0; i < kLaneDims; ++i) {
            const int d = lane + 32 * i;
            o[i] = o[i] * corr + (d < D ? p * load_f32(vrow + d) : 0.0f);
        }
        m = m_new;
    }
};

}  // namespace stride::cuda
