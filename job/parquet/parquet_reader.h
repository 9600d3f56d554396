// Our own Parquet reader, for what dataset files hold (Debian packages no Arrow/Parquet C++ library).
//
// Reads a file as a stream of rows, one row group at a time, each row a JSON object keyed by the
// top-level columns: structs become objects, LIST columns arrays, MAP columns objects, nulls null.
// Supported: the Thrift compact footer; flat and nested columns (repetition and definition levels);
// BOOLEAN, INT32, INT64 (signed and unsigned INT annotations), FLOAT, DOUBLE, BYTE_ARRAY (UTF-8
// strings; JSON-annotated ones are parsed); PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY and RLE values;
// data pages v1 and v2; UNCOMPRESSED, SNAPPY, GZIP and ZSTD pages. Anything else (INT96, fixed-length
// byte arrays, DECIMAL, dates and timestamps, DELTA_* or BYTE_STREAM_SPLIT encodings, LZ4, Brotli,
// external column chunks) is refused naming the column and the feature. A malformed or truncated file
// is refused with an Error naming the file; every length is checked against the file before use.
//
// Depends only on common/base, nlohmann-json, zlib, snappy and zstd, so the fuzzer builds it alone
// (tests/fuzz/fuzz_parquet.cpp).
#pragma once
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace stride::parquet {

using Row = nlohmann::ordered_json;

// Caps on what a page may ask us to allocate: a page's uncompressed bytes and the values (levels)
// of one column chunk. Real writers stay far below both; a file that asks for more is refused.
struct Limits {
    int64_t max_page_bytes = int64_t{1} << 30;
    int64_t max_chunk_values = int64_t{1} << 27;
};

struct FileMeta;   // the parsed footer (file_meta.h)
struct ChunkMeta;  // one column chunk's metadata (file_meta.h)

// Parses the file's footer on construction; next_row_group() then reads one row group at a time.
// `source` names the input in every error (a path, or "fuzz input").
class Reader {
   public:
    // Opens a file on disk.
    explicit Reader(const std::string& path, Limits limits = {});
    // Reads from memory (the fuzzer, tests); `data` must outlive the reader.
    Reader(const uint8_t* data, size_t size, const std::string& source, Limits limits = {});
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    int64_t num_rows() const;  // as the footer says
    int num_row_groups() const;
    std::vector<std::string> columns() const;  // top-level column names
    // The rows of the next row group, in order; false (rows empty) after the last one.
    bool next_row_group(std::vector<Row>& rows);

   private:
    void init();
    void read_at(int64_t offset, int64_t length, std::vector<uint8_t>& out) const;
    void read_footer(std::vector<uint8_t>& footer) const;
    void read_chunk(const ChunkMeta& c, const std::string& what, std::vector<uint8_t>& bytes) const;

    std::string source_;
    Limits limits_;
    FILE* file_ = nullptr;
    const uint8_t* mem_ = nullptr;
    int64_t size_ = 0;
    std::unique_ptr<FileMeta> meta_;
    int next_group_ = 0;
};

// Whether a dataset path names a Parquet file (by its .parquet suffix).
bool is_parquet_path(const std::string& path);

}  // namespace stride::parquet
