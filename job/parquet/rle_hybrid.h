// The RLE / bit-packed hybrid encoding (Encodings.md), which Parquet uses for repetition and
// definition levels, dictionary indices and RLE booleans; and the level streams built on it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stride::parquet {

// Appends `count` values of `width` bits decoded from [p, end) to `out`. Errors start with `what`.
// Instantiated for uint16_t (levels) and uint32_t (indices, booleans).
template <typename T>
void decode_hybrid(const uint8_t* p, const uint8_t* end, int width, size_t count, std::vector<T>& out,
                   const std::string& what);

// Levels of at most `max`: the hybrid at the narrowest width that holds `max`, each value checked.
void decode_levels(const uint8_t* p, const uint8_t* end, int max, size_t count, std::vector<uint16_t>& out,
                   const std::string& what);

// A v1 data page's levels: a 4-byte length, then the hybrid. Returns the bytes used (0 when the
// column has no such levels). `where` prefixes errors; `name` says which levels.
size_t decode_levels_v1(const uint8_t* p, size_t n, int encoding, int max, size_t count,
                        std::vector<uint16_t>& out, const std::string& where, const char* name);

}  // namespace stride::parquet
