// Small vectorised CPU helpers shared by the attention kernels (model/ops/attention.cpp, training;
// model/ops/paged_attention.cpp, decode). Plain loops with `omp simd`: the
// reduction pragma lets the compiler reorder the float sums, which it may not do on its own.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/ops/math.h"

namespace stride {

// Per-thread scratch of at least n floats, grown once (no allocation in steady state).
inline float* thread_floats(size_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
}

// An element of an fp32 or a bf16 array as fp32 (bf16 widens exactly).
inline float to_f32(float x) {
    return x;
}
inline float to_f32(uint16_t x) {
    return float_from_bf16(x);
}

// sum_d a[d] * b[d], with b fp32 or bf16 (the KV cache's dtype).
template <class B>
inline float vec_dot(const float* a, const B* b, int D) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < D; ++d) s += a[d] * to_f32(b[d]);
    return s;
}

}  // namespace stride
