// RMSNorm over rows of C, in fp32 as HF computes it: n = x * rsqrt(mean(x^2) + eps), out = weight * n.
// Also used by Qwen3's q_norm/k_norm with rows = T * heads and C = head_dim.
#include "model/ops/rmsnorm.h"

#include <cmath>

namespace stride {

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int T, int C,
                     float eps) {
#pragma omp parallel for
    for (int t = 0; t < T; ++t) {
        const float* x = inp + (size_t)t * C;
        float* o = out + (size_t)t * C;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int c = 0; c < C; ++c) ss += x[c] * x[c];
        const float r = 1.0f / sqrtf(ss / (float)C + eps);
#pragma omp simd
        for (int c = 0; c < C; ++c) o[c] = weight[c] * (x[c] * r);
        if (rstd) rstd[t] = r;
    }
}

// With n = x * r (r = rstd) and g = dout * w:  dx = r * (g - n * mean(g * n)),  dw = sum_t dout * n.
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int T, int C) {
#pragma omp parallel for
    for (int t = 0; t < T; ++t) {
        const float* x = inp + (size_t)t * C;
        const float* g = dout + (size_t)t * C;
        float* dx = dinp + (size_t)t * C;
        const float r = rstd[t];
        float dot = 0.0f;  // sum_c g_c * w_c * n_c
#pragma omp simd reduction(+ : dot)
        for (int c = 0; c < C; ++c) dot += g[c] * weight[c] * x[c];
        const float k = dot * r / (float)C;  // mean(g w n) = dot * r / C
#pragma omp simd
        for (int c = 0; c < C; ++c) dx[c] += r * (g[c] * weight[c] - x[c] * r * k);
    }
    if (!dweight) return;
    // Weight gradient as column blocks over all rows: race-free and deterministic.
    const int block = 64;
    const int nblocks = (C + block - 1) / block;
#pragma omp parallel for
    for (int b = 0; b < nblocks; ++b) {
        const int c0 = b * block, c1 = c0 + block < C ? c0 + block : C;
        for (int t = 0; t < T; ++t) {
            const float* x = inp + (size_t)t * C;
            const float* g = dout + (size_t)t * C;
            const float r = rstd[t];
#pragma omp simd
            for (int c = c0; c < c1; ++c) dweight[c] += g[c] * x[c] * r;
        }
    }
}

}  // namespace stride
