// expf without a libm call, so loops over it vectorise (glibc has a vector expf only under -ffast-math).
// Cephes polynomial after the range reduction x = n ln2 + r: about 1 ulp over the range we use
// (softmax exponents x <= 0, silu). Inputs below -87.3 give ~1e-38 instead of 0. The min/max clamp
// if-converts only with -fno-trapping-math, which model/CMakeLists.txt sets for stride_model.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace stride {

inline float vec_expf(float x) {
    x = std::min(std::max(x, -87.3f), 88.3f);  // keeps 2^n a normal float (and maps -inf to ~1e-38)
    // n = round(x / ln2) by the 1.5 * 2^23 trick (exact for |x / ln2| < 2^22; no libm call).
    const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
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
