// Per-element math written once for the CPU reference and the CUDA kernels (__host__ __device__),
// so CPU tests exercise exactly the arithmetic the GPU runs.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define STRIDE_HD __host__ __device__ __forceinline__
#else
#define STRIDE_HD inline
#endif

namespace stride {

STRIDE_HD float silu(float x) {
    return x / (1.0f + expf(-x));
}
// d silu(x) / dx = s(x) * (1 + x * (1 - s(x))), s = sigmoid
STRIDE_HD float silu_grad(float x) {
    float s = 1.0f / (1.0f + expf(-x));
    return s * (1.0f + x * (1.0f - s));
}

// bfloat16 is the top half of an fp32. From fp32: round to nearest, ties to even (as PyTorch and
// CUDA's __float2bfloat16 do); NaN stays a (quiet) NaN. Used by the bf16 KV cache.
STRIDE_HD uint16_t bf16_from_float(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>(u >> 16);
}
STRIDE_HD float float_from_bf16(uint16_t b) {
    const uint32_t u = static_cast<uint32_t>(b) << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

// RoPE, rotate-half convention (HF): pair (x0 = x[j], x1 = x[j + D/2]) rotated by angle a.
STRIDE_HD void rope_rotate(float& x0, float& x1, float c, float s) {
    float a = x0 * c - x1 * s;
    float b = x1 * c + x0 * s;
    x0 = a;
    x1 = b;
}
// Backward of rope_rotate is the rotation by -a.
STRIDE_HD void rope_rotate_backward(float& d0, float& d1, float c, float s) {
    rope_rotate(d0, d1, c, -s);
}

// Online softmax merge of two partial (max m, sum l) states: used by attention and log-sum-exp.
STRIDE_HD void lse_merge(float& m, float& l, float m2, float l2) {
    float mn = m > m2 ? m : m2;
    l = l * expf(m - mn) + l2 * expf(m2 - mn);
    m = mn;
}

// Attention backward, one (query i, key j) pair: dS_ij = P_ij (dP_ij - D_i) with dP_ij = dO_i . V_j and
// D_i = dO_i . O_i (= sum_j P_ij dP_ij, the softmax Jacobian's row term). The score scale is applied by
// the caller.
STRIDE_HD float attention_dscore(float p, float dp, float delta) {
    return p * (dp - delta);
}

// LM head backward, one logit: d(g_lp * logprob + g_H * entropy) / dz_j with p = softmax(z),
// logp = log p_j and H the entropy, less the target's own +g_lp (the caller adds it at j == y):
// -p_j (g_lp + g_H (log p_j + H)).
STRIDE_HD float lm_head_dlogit(float p, float logp, float entropy, float g_lp, float g_H) {
    return -p * (g_lp + g_H * (logp + entropy));
}

// splitmix64 finaliser (Steele et al.): a bijective mix, good enough to turn counters into bits.
STRIDE_HD uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
// Uniform double in [0, 1) from (seed, stream, step): the sampler's only source of randomness, the
// same bits on the CPU and the GPU.
STRIDE_HD double counter_uniform(uint64_t seed, uint64_t stream, uint64_t step) {
    uint64_t h = splitmix64(seed);
    h = splitmix64(h ^ stream);
    h = splitmix64(h ^ step);
    return static_cast<double>(h >> 11) * 0x1.0p-53;  // top 53 bits -> [0, 1)
}

// AdamW element update with decoupled weight decay. bc1/bc2 = 1 - beta^t bias corrections.
STRIDE_HD void adamw_update(float& p, float g, float& m, float& v, float lr, float beta1, float beta2,
                            float eps, float weight_decay, float bc1, float bc2) {
    m = beta1 * m + (1.0f - beta1) * g;
    v = beta2 * v + (1.0f - beta2) * g * g;
    float mhat = m / bc1;
    float vhat = v / bc2;
    p -= lr * (mhat / (sqrtf(vhat) + eps) + weight_decay * p);
}

}  // namespace stride
