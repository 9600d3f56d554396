// The footer (FileMetaData) as the reader needs it: schema elements, row groups and their column
// chunks. Parsed from the Thrift compact bytes, then checked against the schema and the limits, so
// that decoding a row group can trust what it reads here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "job/parquet/format.h"
#include "job/parquet/parquet_reader.h"

namespace stride::parquet {

// One schema element; the footer lists them depth first, and build_schema (schema.h) links them.
struct Node {
    std::string name;
    int physical = -1;  // -1: a group
    int type_length = 0;
    int repetition = kRequired;
    int num_children = 0;
    int converted = -1;
    int logical = kLogNone;
    int int_bits = 0;
    bool int_signed = true;
    int scale = 0;       // DECIMAL (SchemaElement.scale, or the logical type's)
    int time_unit = -1;  // TIME, TIMESTAMP logical types: TimeUnit's field id less one
    bool utc = false;    // TIME, TIMESTAMP logical types: isAdjustedToUTC
    std::vector<int> children;
    int def = 0, rep = 0;  // definition and repetition level of this node (root: 0, 0)
    std::string path;      // dotted, from the top-level column
};

struct Leaf {
    int node = 0;
    std::vector<int> path;  // node indices from the top-level column down to the leaf
    ValueType type;
};

struct ChunkMeta {
    int physical = 0;
    int codec = 0;
    std::vector<std::string> path;
    int64_t num_values = 0;
    int64_t total_compressed_size = 0;
    int64_t data_page_offset = -1;
    int64_t dictionary_page_offset = -1;
    bool external = false;  // file_path set: the chunk lives in another file
};

struct RowGroupMeta {
    std::vector<ChunkMeta> columns;
    int64_t num_rows = 0;
};

struct FileMeta {
    std::vector<Node> schema;
    std::vector<Leaf> leaves;  // filled by build_schema, in the order of each row group's chunks
    int64_t num_rows = 0;
    std::vector<RowGroupMeta> row_groups;
};

// The footer's Thrift bytes into `m` (schema elements flat, as written); errors start with `what`.
void parse_file_meta(const uint8_t* data, size_t size, const std::string& what, FileMeta& m);

// Refuses row groups whose row counts, chunks or codecs the reader cannot trust or decode, up front,
// so a bad file fails on opening rather than in the middle of a dataset. Needs the leaves.
void check_row_groups(const FileMeta& m, const Limits& limits, const std::string& source);

}  // namespace stride::parquet
