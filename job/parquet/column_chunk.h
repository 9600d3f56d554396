// One column chunk of one row group: its pages (dictionary, data v1 and v2) decoded into the leaf's
// repetition and definition levels and its non-null values, ready for record assembly (assemble.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "job/parquet/file_meta.h"

namespace stride::parquet {

struct ChunkValues {
    std::vector<uint16_t> def, rep;  // one of each per entry (value, null or empty list)
    std::vector<Row> values;         // the non-null values, in order
};

// Decodes the chunk's bytes [data, data + size), read from the file at its first page.
// Errors start with `what` (the file, row group and column).
ChunkValues decode_chunk(const Node& node, const Leaf& leaf, const ChunkMeta& chunk, const Limits& limits,
                         const std::string& what, const uint8_t* data, size_t size);

}  // namespace stride::parquet
