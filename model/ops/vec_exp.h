// expf without a libm call, so loops over it vectorise under `#pragma omp simd` (glibc only offers
// vector expf under -ffast-math). Cephes polynomial after range reduction x = n ln2 + r: about 1 ulp
// over the range we use (softmax exponents, x <= 0). Inputs below -87.3 give ~1e-38 (not 0).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace stride {

#pragma omp declare simd
inline float vec_expf(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
    const float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f;  // ln2 split in two constants for an exact reduction
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = ((int32_t)n + 127) << 23;  // 2^n
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

}  // namespace stride
