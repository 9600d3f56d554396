// PLAIN-encoded values (Encodings.md) into JSON values: the encoding of PLAIN data pages and of
// dictionary pages. Byte arrays become strings (each invalid UTF-8 subpart replaced by U+FFFD) or, for JSON
// columns, parsed JSON; dates, times, timestamps (INT96 too) and decimals become text (temporal.h,
// decimal.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "job/parquet/format.h"
#include "job/parquet/parquet_reader.h"

namespace stride::parquet {

// Appends `count` values of `physical` type from [p, end), each as `type` says, to `out`.
// Errors start with `what`.
void decode_plain(int physical, const ValueType& type, const uint8_t* p, const uint8_t* end, size_t count,
                  std::vector<Row>& out, const std::string& what);

}  // namespace stride::parquet
