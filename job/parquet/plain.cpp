// PLAIN values: fixed-width little-endian numbers, bit-packed booleans, and byte arrays each behind a
// 4-byte length. Counts are checked against the bytes left before any value is read.
#include "job/parquet/plain.h"

#include <cstring>

#include "common/base/error.h"
#include "common/base/utf8.h"
#include "job/parquet/decimal.h"
#include "job/parquet/temporal.h"

namespace stride::parquet {

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& why) {
    throw Error(what + ": " + why);
}

Row convert_string(const ValueType& type, const uint8_t* p, size_t n, const std::string& what) {
    if (type.kind == Kind::kDecimal) {
        if (n > static_cast<size_t>(kMaxDecimalBytes))
            fail(what, "a DECIMAL of " + std::to_string(n) + " bytes (the limit is " +
                           std::to_string(kMaxDecimalBytes) + ")");
        return Row(decimal_text(p, n, type.scale));
    }
    std::string s(reinterpret_cast<const char*>(p), n);
    if (type.kind == Kind::kJson) {
        Row j = Row::parse(s, nullptr, false);
        if (j.is_discarded()) fail(what, "a JSON value that does not parse");
        return j;
    }
    // Rows go out as JSON, whose writer refuses invalid UTF-8: each maximal invalid subpart becomes
    // U+FFFD, as the WHATWG TextDecoder (hyparquet's) and Rust's from_utf8_lossy do.
    return Row(utf8_find_invalid(s) == std::string::npos ? std::move(s) : utf8_lossy(s));
}

void plain_booleans(const uint8_t* p, size_t avail, size_t count, std::vector<Row>& out,
                    const std::string& what) {
    if (count > avail * 8) fail(what, "PLAIN booleans: truncated");
    for (size_t i = 0; i < count; ++i) out.emplace_back(((p[i / 8] >> (i % 8)) & 1) != 0);
}

// An INT32 or INT64 of a date, time, timestamp or decimal column, as text (temporal.h, decimal.h).
Row annotated_int(const ValueType& type, int64_t v, const std::string& what) {
    switch (type.kind) {
        case Kind::kDate:
            return Row(date_text(v));
        case Kind::kTimestamp:
            return Row(timestamp_text(v, type.unit, type.utc));
        case Kind::kTime:
            if (auto t = time_text(v, type.unit, type.utc)) return Row(*t);
            fail(what, "a TIME value outside the day: " + std::to_string(v));
        default:
            return Row(decimal_text(v, type.scale));
    }
}

// INT32 and INT64, signed unless the column is annotated unsigned.
void plain_ints(int physical, const ValueType& type, const uint8_t* p, size_t count, std::vector<Row>& out,
                const std::string& what) {
    const Kind kind = type.kind;
    const bool annotated =
        kind == Kind::kDate || kind == Kind::kTime || kind == Kind::kTimestamp || kind == Kind::kDecimal;
    for (size_t i = 0; i < count; ++i) {
        if (physical == kInt32) {
            uint32_t v = le32(p + 4 * i);
            if (annotated)
                out.push_back(annotated_int(type, static_cast<int32_t>(v), what));
            else if (kind == Kind::kUInt32)
                out.emplace_back(static_cast<uint64_t>(v));
            else
                out.emplace_back(static_cast<int64_t>(static_cast<int32_t>(v)));
        } else {
            uint64_t v;
            std::memcpy(&v, p + 8 * i, 8);
            if (annotated)
                out.push_back(annotated_int(type, static_cast<int64_t>(v), what));
            else if (kind == Kind::kUInt64)
                out.emplace_back(v);
            else
                out.emplace_back(static_cast<int64_t>(v));
        }
    }
}

// INT96 (12 bytes: nanoseconds into the day, then the Julian day), only ever a timestamp.
void plain_int96(const uint8_t* p, size_t count, std::vector<Row>& out) {
    for (size_t i = 0; i < count; ++i, p += 12) {
        uint64_t nanos;
        std::memcpy(&nanos, p, 8);
        out.emplace_back(int96_timestamp_text(nanos, le32(p + 8)));
    }
}

// FIXED_LEN_BYTE_ARRAY values of `type.width` bytes each, only ever decimals (schema.cpp).
void plain_fixed(const ValueType& type, const uint8_t* p, size_t count, std::vector<Row>& out,
                 const std::string& what) {
    for (size_t i = 0; i < count; ++i, p += type.width)
        out.push_back(convert_string(type, p, static_cast<size_t>(type.width), what));
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

void plain_byte_arrays(const ValueType& type, const uint8_t* p, const uint8_t* end, size_t count,
                       std::vector<Row>& out, const std::string& what) {
    if (count > static_cast<size_t>(end - p) / 4) fail(what, "PLAIN byte arrays: truncated");
    for (size_t i = 0; i < count; ++i) {
        if (end - p < 4) fail(what, "PLAIN byte arrays: truncated");
        uint32_t len = le32(p);
        p += 4;
        if (len > static_cast<size_t>(end - p)) fail(what, "PLAIN byte arrays: a length past the page");
        out.push_back(convert_string(type, p, len, what));
        p += len;
    }
}

}  // namespace

void decode_plain(int physical, const ValueType& type, const uint8_t* p, const uint8_t* end, size_t count,
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
            return plain_ints(physical, type, p, count, out, what);
        case kFloat:
        case kDouble:
            need(physical == kFloat ? 4 : 8);
            return plain_floats(physical, p, count, out);
        case kByteArray:
            return plain_byte_arrays(type, p, end, count, out, what);
        case kInt96:
            need(12);
            return plain_int96(p, count, out);
        case kFixedLenByteArray:
            if (type.width <= 0) fail(what, "FIXED_LEN_BYTE_ARRAY without a length");
            need(static_cast<size_t>(type.width));
            return plain_fixed(type, p, count, out, what);
        default:
            throw Error(what + ": " + std::string("physical type ") + physical_name(physical) +
                        " is not supported");
    }
}

}  // namespace stride::parquet
