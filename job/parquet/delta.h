// The DELTA_* and BYTE_STREAM_SPLIT value encodings (Encodings.md), turned back into PLAIN bytes so
// that decode_plain gives their values the same JSON form as every other encoding's:
//   DELTA_BINARY_PACKED      INT32/INT64: blocks of bit-packed deltas from a running value;
//   DELTA_LENGTH_BYTE_ARRAY  BYTE_ARRAY: the lengths (delta-packed), then the bytes back to back;
//   DELTA_BYTE_ARRAY         BYTE_ARRAY: prefix lengths shared with the previous value, then the
//                            suffixes as DELTA_LENGTH_BYTE_ARRAY;
//   BYTE_STREAM_SPLIT        FLOAT/DOUBLE/INT32/INT64: byte k of every value, then byte k+1 ...
// Every count and width is checked against the page before it is used.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace stride::parquet {

// `count` values of [p, end) in `encoding` (a DELTA_* or BYTE_STREAM_SPLIT) as the PLAIN bytes of
// `physical`, appended to `plain`. Throws Error starting with `what` on a malformed page or a
// physical type the encoding does not apply to.
void decode_to_plain(int encoding, int physical, const uint8_t* p, const uint8_t* end, size_t count,
                     std::vector<uint8_t>& plain, const std::string& what);

}  // namespace stride::parquet
