// Parquet's vocabulary as parquet.thrift numbers it (types, repetitions, codecs, encodings, converted
// and logical types, page types), the names used in refusals, and what a leaf's values become.
// The format: https://github.com/apache/parquet-format (parquet.thrift, Encodings.md).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace stride::parquet {

enum Physical {
    kBoolean = 0,
    kInt32 = 1,
    kInt64 = 2,
    kInt96 = 3,
    kFloat = 4,
    kDouble = 5,
    kByteArray = 6,
    kFixedLenByteArray = 7
};
enum Repetition { kRequired = 0, kOptional = 1, kRepeated = 2 };
enum Codec {
    kUncompressed = 0,
    kSnappy = 1,
    kGzip = 2,
    kLzo = 3,
    kBrotli = 4,
    kLz4 = 5,
    kZstd = 6,
    kLz4Raw = 7
};
enum Encoding {
    kPlain = 0,
    kPlainDictionary = 2,
    kRle = 3,
    kBitPacked = 4,
    kDeltaBinaryPacked = 5,
    kDeltaLengthByteArray = 6,
    kDeltaByteArray = 7,
    kRleDictionary = 8,
    kByteStreamSplit = 9
};
enum Converted {
    kUtf8 = 0,
    kMap = 1,
    kMapKeyValue = 2,
    kList = 3,
    kEnum = 4,
    kDecimal = 5,
    kDate = 6,
    kTimeMillis = 7,
    kTimeMicros = 8,
    kTimestampMillis = 9,
    kTimestampMicros = 10,
    kJson = 19
};
// LogicalType is a union; its field ids.
enum Logical {
    kLogNone = 0,
    kLogString = 1,
    kLogMap = 2,
    kLogList = 3,
    kLogEnum = 4,
    kLogDecimal = 5,
    kLogDate = 6,
    kLogTime = 7,
    kLogTimestamp = 8,
    kLogInteger = 10,
    kLogNull = 11,
    kLogJson = 12
};
enum PageType { kDataPage = 0, kIndexPage = 1, kDictionaryPage = 2, kDataPageV2 = 3 };

// How a leaf's values become JSON. The last four are strings (job/parquet/temporal.h, decimal.h):
// a date "YYYY-MM-DD", a time of day "HH:MM:SS.fff", a timestamp "YYYY-MM-DDTHH:MM:SS.fff" (INT96
// included), each with its unit's digits and a "Z" when adjusted to UTC, and a decimal exactly.
enum class Kind {
    kBool,
    kInt32,
    kUInt32,
    kInt64,
    kUInt64,
    kFloat,
    kDouble,
    kString,
    kJson,
    kDate,
    kTime,
    kTimestamp,
    kDecimal
};
// TimeUnit's union field ids in parquet.thrift, less one.
enum class TimeUnit { kMillis = 0, kMicros = 1, kNanos = 2 };

// What a leaf's values become: the kind, and the parameters of the logical types that have them.
struct ValueType {
    Kind kind = Kind::kString;
    TimeUnit unit = TimeUnit::kMillis;  // kTime, kTimestamp
    bool utc = false;                   // kTime, kTimestamp: isAdjustedToUTC, written as a "Z"
    int scale = 0;                      // kDecimal: digits after the point
    int width = 0;                      // FIXED_LEN_BYTE_ARRAY: bytes per value
};

inline const char* codec_name(int c) {
    static const char* names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                  "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return c >= 0 && c < 8 ? names[c] : "an unknown codec";
}

inline std::string encoding_name(int e) {
    static const char* names[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return e >= 0 && e < 10 ? names[e] : "encoding " + std::to_string(e);
}

inline const char* physical_name(int t) {
    static const char* names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                  "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return t >= 0 && t < 8 ? names[t] : "an unknown type";
}

// Parquet is little-endian throughout; memcpy because page bytes carry no alignment.
inline uint32_t le32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

}  // namespace stride::parquet
