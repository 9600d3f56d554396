// DECIMAL values as exact decimal text: the unscaled integer (INT32, INT64, or a big-endian two's
// complement byte string in BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY) with `scale` digits after the point,
// trailing zeros kept ("12.30" at scale 2, "-0.05", "7" at scale 0). Text, because a JSON number
// would be read back as a binary float by most consumers (Python's json among them).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace stride::parquet {

// Bounds that keep one value's text small whatever a footer claims: a decimal of up to 128 bytes
// (308 digits; parquet-format's widest common one is 16 bytes, 38 digits), at most 100 digits after
// the point.
constexpr int kMaxDecimalBytes = 128;
constexpr int kMaxDecimalScale = 100;

std::string decimal_text(int64_t unscaled, int scale);
// `n` <= kMaxDecimalBytes (the caller checks); no bytes is 0.
std::string decimal_text(const uint8_t* big_endian, size_t n, int scale);

}  // namespace stride::parquet
