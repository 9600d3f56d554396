// Small vectorised CPU helpers of the attention kernels (model/ops/attention.cpp, training;
// model/ops/paged_attention.cpp, decode). Plain loops with `omp simd`: the
// reduction pragma lets the compiler reorder the float sums, which it may not do on its own.
#pragma once
#include <cstddef>
#include <vector>

namespace stride {

// Per-thread scratch of at least n floats, grown once (no allocation in steady state).
inline float* thread_floats(size_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
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

inline float vec_dot(const float* a, const float* b, int D) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < D; ++d) s += a[d] * b[d];
    return s;
}

}  // namespace stride
