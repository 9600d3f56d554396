// bf16 / f16 <-> f32 scalar conversions, bit-exact with PyTorch's CPU `tensor.to(dtype)`.
//
// Integer-only on purpose: the float-arithmetic tricks of the FP16 library depend on the compiler not
// contracting mul+add into FMA, which clang does by default. Integer code gives the same bits with
// every compiler and flag set, which is what "same checkpoint bytes as torch" needs.
#pragma once
#include <cstdint>
#include <cstring>

namespace stride {

inline uint32_t f32_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

inline float f32_from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// ---- bfloat16: the top 16 bits of an f32 -----------------------------------------------------------

inline float bf16_to_f32(uint16_t h) {
    return f32_from_bits(static_cast<uint32_t>(h) << 16);
}

// Round to nearest, ties to even (torch's rule). Overflow rounds to inf as in IEEE arithmetic.
// Every NaN becomes 0xFFFF: torch's vectorised CPU path (cvtfp32_bf16, AVX2/AVX-512) writes that,
// and it is the path `tensor.to(torch.bfloat16)` takes (checked on torch 1.13: even -nan -> 0xFFFF).
inline uint16_t f32_to_bf16(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0xffffu;
    const uint32_t rounding_bias = 0x7fffu + ((u >> 16) & 1u);
    return static_cast<uint16_t>((u + rounding_bias) >> 16);
}

// ---- IEEE half: 1 sign, 5 exponent (bias 15), 10 mantissa bits -------------------------------------

inline float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (mant << 13));  // inf / NaN
    if (exp != 0) return f32_from_bits(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return f32_from_bits(sign);  // +-0
    // Subnormal half: normalise; every half subnormal is a normal f32.
    int e = -1;
    do {
        mant <<= 1;
        ++e;
    } while ((mant & 0x400u) == 0);
    return f32_from_bits(sign | static_cast<uint32_t>(112 - e) << 23 | ((mant & 0x3ffu) << 13));
}

// Round to nearest, ties to even, with gradual underflow. NaN -> sign | 0x7E00 (a quiet NaN), which is
// what torch writes (F16C vcvtps2ph and c10::Half agree on it).
inline uint16_t f32_to_f16(float f) {
    const uint32_t u = f32_bits(f);
    const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;   // NaN
    if (a >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to inf (65504 is odd, tie goes up)
    const int e = static_cast<int>(a >> 23) - 127;
    if (e >= -14) {  // normal half
        uint32_t h = static_cast<uint32_t>(e + 15) << 10 | ((a & 0x7fffffu) >> 13);
        const uint32_t rest = a & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is right
        return sign | static_cast<uint16_t>(h);
    }
    if (a <= 0x33000000u) return sign;  // <= 2^-25: the tie at 2^-25 goes to even, i.e. zero
    // Subnormal half: value / 2^-24 = m * 2^(e+1) with m the 24-bit significand; e in [-25, -15].
    const uint32_t m = (a & 0x7fffffu) | 0x800000u;
    const int shift = -(e + 1);  // 14..24
    uint32_t h = m >> shift;
    const uint32_t rest = m & ((1u << shift) - 1u);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (h & 1u))) ++h;  // may reach 0x400, the smallest normal: right
    return sign | static_cast<uint16_t>(h);
}

}  // namespace stride
