// DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY and BYTE_STREAM_SPLIT into PLAIN bytes.
#include "job/parquet/delta.h"

#include <cstring>

#include "common/base/error.h"
#include "job/parquet/format.h"

namespace stride::parquet {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) {
    throw Error(what + ": " + why);
}

// Reads [p, end) front to back; every read is bounds-checked.
class ByteCursor {
   public:
    ByteCursor(const uint8_t* p, const uint8_t* end, const std::string& what)
        : p_(p), end_(end), what_(what) {}

    uint64_t uleb() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ >= end_) fail(what_, "DELTA header: truncated");
            const uint8_t b = *p_++;
            v |= static_cast<uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        fail(what_, "DELTA header: a varint longer than 10 bytes");
    }
    int64_t zigzag() {
        const uint64_t v = uleb();
        return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
    }
    uint8_t byte() {
        if (p_ >= end_) fail(what_, "DELTA block: truncated");
        return *p_++;
    }
    // `n` bytes, skipped; where they start.
    const uint8_t* take(size_t n) {
        if (n > static_cast<size_t>(end_ - p_)) fail(what_, "DELTA miniblock: truncated");
        const uint8_t* at = p_;
        p_ += n;
        return at;
    }
    const uint8_t* pos() const { return p_; }
    const uint8_t* end() const { return end_; }

   private:
    const uint8_t* p_;
    const uint8_t* end_;
    const std::string& what_;
};

// Value i of width w (0..64) from LSB-first bit-packed data.
uint64_t unpack(const uint8_t* data, size_t i, int w) {
    uint64_t v = 0;
    size_t bit = i * w;
    for (int got = 0; got < w;) {
        const int take = std::min(8 - static_cast<int>(bit % 8), w - got);
        const uint64_t bits = (data[bit / 8] >> (bit % 8)) & ((1u << take) - 1);
        v |= bits << got;
        got += take;
        bit += take;
    }
    return v;
}

// DELTA_BINARY_PACKED: `count` integers (the header's own count must agree) from the cursor.
std::vector<int64_t> delta_ints(ByteCursor& c, size_t count, const std::string& what) {
    const uint64_t block = c.uleb(), minis = c.uleb(), total = c.uleb();
    int64_t value = c.zigzag();
    if (block == 0 || block % 128 != 0 || block > (1u << 20) || minis == 0 || block % minis != 0 ||
        (block / minis) % 32 != 0)
        fail(what, "DELTA_BINARY_PACKED: a block of " + std::to_string(block) + " values in " +
                       std::to_string(minis) + " miniblocks");
    if (total != count)
        fail(what, "DELTA_BINARY_PACKED: " + std::to_string(total) + " values where the page has " +
                       std::to_string(count));
    const size_t per_mini = block / minis;
    std::vector<int64_t> out;
    out.reserve(count);
    if (count > 0) out.push_back(value);
    while (out.size() < count) {
        const int64_t min_delta = c.zigzag();
        std::vector<int> widths(minis);
        for (int& w : widths)
            if ((w = c.byte()) > 64) fail(what, "DELTA_BINARY_PACKED: a bit width over 64");
        for (size_t m = 0; m < minis && out.size() < count; ++m) {
            const uint8_t* data = c.take(per_mini * widths[m] / 8);
            for (size_t i = 0; i < per_mini && out.size() < count; ++i) {
                // Wrapping arithmetic, as the format defines it.
                value = static_cast<int64_t>(static_cast<uint64_t>(value) + static_cast<uint64_t>(min_delta) +
                                             unpack(data, i, widths[m]));
                out.push_back(value);
            }
        }
    }
    return out;
}

void put_le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void put_byte_array(std::vector<uint8_t>& out, const uint8_t* p, size_t n) {
    put_le(out, n, 4);
    out.insert(out.end(), p, p + n);
}

// Lengths as non-negative 32-bit sizes.
std::vector<size_t> lengths(ByteCursor& c, size_t count, const std::string& what, const char* name) {
    std::vector<size_t> out;
    for (int64_t n : delta_ints(c, count, what)) {
        if (n < 0 || n > INT32_MAX) fail(what, std::string(name) + ": a negative or huge length");
        out.push_back(static_cast<size_t>(n));
    }
    return out;
}

void delta_length_byte_array(ByteCursor& c, size_t count, std::vector<uint8_t>& plain,
                             const std::string& what) {
    for (size_t n : lengths(c, count, what, "DELTA_LENGTH_BYTE_ARRAY")) put_byte_array(plain, c.take(n), n);
}

void delta_byte_array(ByteCursor& c, size_t count, std::vector<uint8_t>& plain, const std::string& what) {
    const std::vector<size_t> prefix = lengths(c, count, what, "DELTA_BYTE_ARRAY prefixes");
    const std::vector<size_t> suffix = lengths(c, count, what, "DELTA_BYTE_ARRAY suffixes");
    std::vector<uint8_t> last;
    for (size_t i = 0; i < count; ++i) {
        if (prefix[i] > last.size()) fail(what, "DELTA_BYTE_ARRAY: a prefix longer than the previous value");
        last.resize(prefix[i]);
        const uint8_t* s = c.take(suffix[i]);
        last.insert(last.end(), s, s + suffix[i]);
        put_byte_array(plain, last.data(), last.size());
    }
}

void byte_stream_split(int physical, const uint8_t* p, const uint8_t* end, size_t count,
                       std::vector<uint8_t>& plain, const std::string& what) {
    const size_t width = physical == kFloat || physical == kInt32 ? 4 : 8;
    if (static_cast<size_t>(end - p) / width < count) fail(what, "BYTE_STREAM_SPLIT: truncated");
    const size_t at = plain.size();
    plain.resize(at + count * width);
    for (size_t k = 0; k < width; ++k)
        for (size_t i = 0; i < count; ++i) plain[at + i * width + k] = p[k * count + i];
}

}  // namespace

void decode_to_plain(int encoding, int physical, const uint8_t* p, const uint8_t* end, size_t count,
                     std::vector<uint8_t>& plain, const std::string& what) {
    const std::string name = encoding_name(encoding);
    auto only = [&](bool ok) {
        if (!ok) throw Error(what + ": " + name + " of " + physical_name(physical) + " is not supported");
    };
    ByteCursor c(p, end, what);
    switch (encoding) {
        case kDeltaBinaryPacked:
            only(physical == kInt32 || physical == kInt64);
            for (int64_t v : delta_ints(c, count, what))
                put_le(plain, static_cast<uint64_t>(v), physical == kInt32 ? 4 : 8);
            return;
        case kDeltaLengthByteArray:
            only(physical == kByteArray);
            return delta_length_byte_array(c, count, plain, what);
        case kDeltaByteArray:
            only(physical == kByteArray);
            return delta_byte_array(c, count, plain, what);
        case kByteStreamSplit:
            only(physical == kFloat || physical == kDouble || physical == kInt32 || physical == kInt64);
            return byte_stream_split(physical, p, end, count, plain, what);
        default:
            throw Error(what + ": encoding " + name + " is not supported");
    }
}

}  // namespace stride::parquet
