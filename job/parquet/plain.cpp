// PLAIN values: fixed-width little-endian numbers, bit-packed booleans, and byte arrays each behind a
// 4-byte length. Counts are checked against the bytes left before any value is read.
#include "job/parquet/plain.h"

#include <cstring>

#include "common/base/error.h"

namespace stride::parquet {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) {
    throw Error(what + ": " + why);
}

// Length of the UTF-8 sequence that lead byte `c` starts; 0 for a byte that cannot start one.
size_t utf8_length(unsigned char c) {
    return (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
}

// Strict UTF-8: no overlong forms, surrogates or code points past U+10FFFF, since the rows go out as
// JSON and nlohmann's dump refuses invalid UTF-8.
bool valid_utf8(const std::string& s) {
    size_t i = 0, n = s.size();
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len = utf8_length(c);
        if (len == 0 || i + len > n) return false;
        uint32_t cp = c & (0x7f >> len);
        for (size_t k = 1; k < len; ++k) {
            unsigned char d = s[i + k];
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

// Each byte that does not start a valid sequence becomes U+FFFD.
std::string replace_invalid_utf8(const std::string& s) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        size_t len = 1;
        unsigned char c = s[i];
        if (c >= 0x80) len = utf8_length(c);
        if (len && i + len <= s.size() && valid_utf8(s.substr(i, len))) {
            out.append(s, i, len);
            i += len;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    return out;
}

Row convert_string(Kind kind, const uint8_t* p, size_t n, const std::string& what) {
    std::string s(reinterpret_cast<const char*>(p), n);
    if (kind == Kind::kJson) {
        Row j = Row::parse(s, nullptr, false);
        if (j.is_discarded()) fail(what, "a JSON value that does not parse");
        return j;
    }
    return Row(valid_utf8(s) ? std::move(s) : replace_invalid_utf8(s));
}

void plain_booleans(const uint8_t* p, size_t avail, size_t count, std::vector<Row>& out,
                    const std::string& what) {
    if (count > avail * 8) fail(what, "PLAIN booleans: truncated");
    for (size_t i = 0; i < count; ++i) out.emplace_back(((p[i / 8] >> (i % 8)) & 1) != 0);
}

// INT32 and INT64, signed unless the column is annotated unsigned.
void plain_ints(int physical, Kind kind, const uint8_t* p, size_t count, std::vector<Row>& out) {
    for (size_t i = 0; i < count; ++i) {
        if (physical == kInt32) {
            uint32_t v = le32(p + 4 * i);
            if (kind == Kind::kUInt32)
                out.emplace_back(static_cast<uint64_t>(v));
            else
                out.emplace_back(static_cast<int64_t>(static_cast<int32_t>(v)));
        } else {
            uint64_t v;
            std::memcpy(&v, p + 8 * i, 8);
            if (kind == Kind::kUInt64)
                out.emplace_back(v);
            else
                out.emplace_back(static_cast<int64_t>(v));
        }
    }
}

// FLOAT and DOUBLE; floats widen to double, which JSON numbers are.
void plain_floats(int physical, const uint8_t* p, size_t count, std::vector<Row>& out) {
    for (size_t i = 0; i < count; ++i) {
        if (physical == kFloat) {
            float v;
            std::memcpy(&v, p + 4 * i, 4);
            out.emplace_back(static_cast<double>(v));
        } else {
            double v;
            std::memcpy(&v, p + 8 * i, 8);
            out.emplace_back(v);
        }
    }
}

void plain_byte_arrays(Kind kind, const uint8_t* p, const uint8_t* end, size_t count, std::vector<Row>& out,
                       const std::string& what) {
    if (count > static_cast<size_t>(end - p) / 4) fail(what, "PLAIN byte arrays: truncated");
    for (size_t i = 0; i < count; ++i) {
        if (end - p < 4) fail(what, "PLAIN byte arrays: truncated");
        uint32_t len = le32(p);
        p += 4;
        if (len > static_cast<size_t>(end - p)) fail(what, "PLAIN byte arrays: a length past the page");
        out.push_back(convert_string(kind, p, len, what));
        p += len;
    }
}

}  // namespace

void decode_plain(int physical, Kind kind, const uint8_t* p, const uint8_t* end, size_t count,
                  std::vector<Row>& out, const std::string& what) {
    const size_t avail = static_cast<size_t>(end - p);
    auto need = [&](size_t width) {
        if (count > avail / width) fail(what, "PLAIN values: truncated");
    };
    switch (physical) {
        case kBoolean:
            return plain_booleans(p, avail, count, out, what);
        case kInt32:
        case kInt64:
            need(physical == kInt32 ? 4 : 8);
            return plain_ints(physical, kind, p, count, out);
        case kFloat:
        case kDouble:
            need(physical == kFloat ? 4 : 8);
            return plain_floats(physical, p, count, out);
        case kByteArray:
            return plain_byte_arrays(kind, p, end, count, out, what);
        default:
            throw Error(what + ": " + std::string("physical type ") + physical_name(physical) +
                        " is not supported");
    }
}

}  // namespace stride::parquet
