// The hybrid is a sequence of runs, each behind a ULEB128 header whose low bit says which kind:
// bit-packed groups of 8 values, or one value repeated. Every run is checked against the bytes left.
#include "job/parquet/rle_hybrid.h"

#include <algorithm>

#include "common/base/error.h"
#include "job/parquet/format.h"

namespace stride::parquet {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) {
    throw Error(what + ": " + why);
}

// The run header, a ULEB128 varint; at most 64 bits so a hostile one cannot shift past it.
uint64_t read_run_header(const uint8_t*& p, const uint8_t* end, const std::string& what) {
    uint64_t header = 0;
    for (int shift = 0;; shift += 7) {
        if (p >= end) fail(what, "truncated");
        if (shift > 63) fail(what, "a bad run header");
        header |= static_cast<uint64_t>(*p & 0x7f) << shift;
        if (!(*p++ & 0x80)) break;
    }
    return header;
}

// `groups` groups of 8 values packed LSB first; only the first `want` are kept (the last group may
// be padding). Returns the position after the run.
template <typename T>
const uint8_t* read_bit_packed(const uint8_t* p, const uint8_t* end, int width, uint64_t groups, size_t want,
                               std::vector<T>& out, const std::string& what) {
    if (width > 0 && groups > static_cast<uint64_t>(end - p) / width)
        fail(what, "a bit-packed run longer than the data");
    uint64_t n = std::min<uint64_t>(groups * 8, want);
    if (width == 0) {
        out.insert(out.end(), n, T{0});
        return p;
    }
    const uint64_t mask = width == 32 ? 0xffffffffull : ((1ull << width) - 1);
    const uint64_t run_bytes = groups * width;
    for (uint64_t i = 0; i < n; ++i) {  // a value of at most 32 bits spans at most 5 bytes
        const uint64_t bit = i * width;
        const uint64_t at = bit / 8;
        uint64_t window = 0;
        for (uint64_t k = 0; k < 5 && at + k < run_bytes; ++k)
            window |= static_cast<uint64_t>(p[at + k]) << (8 * k);
        out.push_back(static_cast<T>((window >> (bit % 8)) & mask));
    }
    return p + groups * width;
}

// One value, in the fewest whole bytes that hold `width` bits, repeated `run` times (at most `want`).
template <typename T>
const uint8_t* read_repeated(const uint8_t* p, const uint8_t* end, int width, uint64_t run, size_t want,
                             std::vector<T>& out, const std::string& what) {
    const size_t value_bytes = (width + 7) / 8;
    if (static_cast<size_t>(end - p) < value_bytes) fail(what, "truncated");
    uint64_t v = 0;
    for (size_t k = 0; k < value_bytes; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
    p += value_bytes;
    if (width < 32 && (v >> width)) fail(what, "a run value wider than its bit width");
    out.insert(out.end(), std::min<uint64_t>(run, want), static_cast<T>(v));
    return p;
}

// The narrowest bit width that holds every level up to max_level.
int bit_width(int max_level) {
    int w = 0;
    while ((1 << w) <= max_level) ++w;
    return w;
}

}  // namespace

template <typename T>
void decode_hybrid(const uint8_t* p, const uint8_t* end, int width, size_t count, std::vector<T>& out,
                   const std::string& what) {
    if (width > 32) fail(what, "a bit width over 32");
    const size_t target = out.size() + count;
    while (out.size() < target) {
        const uint64_t header = read_run_header(p, end, what);
        if (header & 1)
            p = read_bit_packed(p, end, width, header >> 1, target - out.size(), out, what);
        else
            p = read_repeated(p, end, width, header >> 1, target - out.size(), out, what);
    }
}

template void decode_hybrid<uint16_t>(const uint8_t*, const uint8_t*, int, size_t, std::vector<uint16_t>&,
                                      const std::string&);
template void decode_hybrid<uint32_t>(const uint8_t*, const uint8_t*, int, size_t, std::vector<uint32_t>&,
                                      const std::string&);

void decode_levels(const uint8_t* p, const uint8_t* end, int max, size_t count, std::vector<uint16_t>& out,
                   const std::string& what) {
    const size_t before = out.size();
    decode_hybrid(p, end, bit_width(max), count, out, what);
    for (size_t i = before; i < out.size(); ++i)
        if (out[i] > max) fail(what, "a level above the column's maximum");
}

size_t decode_levels_v1(const uint8_t* p, size_t n, int encoding, int max, size_t count,
                        std::vector<uint16_t>& out, const std::string& where, const char* name) {
    if (max == 0) return 0;  // a required column at this depth writes no levels
    const std::string what = where + ": " + name;
    if (encoding != kRle)
        throw Error(where + ": " + name + " encoded as " + encoding_name(encoding) + " is not supported");
    if (n < 4) fail(what, "truncated");
    uint32_t len = le32(p);
    if (len > n - 4) fail(what, "longer than the page");
    decode_levels(p + 4, p + 4 + len, max, count, out, what);
    return 4 + len;
}

}  // namespace stride::parquet
