// Decimal text from an unscaled integer: its magnitude's digits by long division in base 10^9, then
// the point placed `scale` digits from the right.
#include "job/parquet/decimal.h"

#include <vector>

namespace stride::parquet {

namespace {

// "-"? digits, with the point `scale` digits from the right (zeros added in front as needed).
std::string place_point(bool negative, std::string digits, int scale) {
    if (scale > 0) {
        if (digits.size() <= static_cast<size_t>(scale))
            digits.insert(0, static_cast<size_t>(scale) + 1 - digits.size(), '0');
        digits.insert(digits.size() - static_cast<size_t>(scale), 1, '.');
    }
    const bool zero = digits.find_first_not_of("0.") == std::string::npos;
    return negative && !zero ? "-" + digits : digits;
}

// The decimal digits of the big-endian unsigned magnitude `m` (consumed).
std::string magnitude_digits(std::vector<uint8_t> m) {
    constexpr uint64_t kChunk = 1000000000;  // 10^9: remainder * 256 + byte stays in 64 bits
    std::string out;                         // little end first, in chunks of nine digits
    size_t first = 0;                        // m[first..] is what is left to divide
    while (first < m.size() && m[first] == 0) ++first;
    while (first < m.size()) {
        uint64_t rem = 0;
        for (size_t i = first; i < m.size(); ++i) {
            const uint64_t cur = rem * 256 + m[i];
            m[i] = static_cast<uint8_t>(cur / kChunk);
            rem = cur % kChunk;
        }
        while (first < m.size() && m[first] == 0) ++first;
        for (int k = 0; k < 9; ++k, rem /= 10) out.push_back(static_cast<char>('0' + rem % 10));
    }
    while (out.size() > 1 && out.back() == '0') out.pop_back();
    if (out.empty()) out = "0";
    return std::string(out.rbegin(), out.rend());
}

}  // namespace

std::string decimal_text(int64_t unscaled, int scale) {
    const bool negative = unscaled < 0;
    // The magnitude in unsigned arithmetic, so that INT64_MIN has one too.
    const uint64_t mag = negative ? 0 - static_cast<uint64_t>(unscaled) : static_cast<uint64_t>(unscaled);
    return place_point(negative, std::to_string(mag), scale);
}

std::string decimal_text(const uint8_t* big_endian, size_t n, int scale) {
    if (n == 0) return place_point(false, "0", scale);
    const bool negative = (big_endian[0] & 0x80) != 0;
    std::vector<uint8_t> m(big_endian, big_endian + n);
    if (negative) {  // two's complement: invert and add one
        for (uint8_t& b : m) b = static_cast<uint8_t>(~b);
        for (size_t i = n; i-- > 0;)
            if (++m[i] != 0) break;
    }
    return place_point(negative, magnitude_digits(std::move(m)), scale);
}

}  // namespace stride::parquet
