// The public reader: opens the file (or memory), checks the magic and reads the footer, then decodes
// one row group at a time, column chunk by column chunk, into rows. The pieces: file_meta (footer),
// schema (tree and levels), column_chunk (pages, via page, rle_hybrid and plain), assemble (rows).
#include "job/parquet/parquet_reader.h"

#include <cstring>

#include "common/base/error.h"
#include "job/parquet/assemble.h"
#include "job/parquet/file_meta.h"
#include "job/parquet/schema.h"

namespace stride::parquet {

Reader::Reader(const std::string& path, Limits limits) : source_(path), limits_(limits) {
    file_ = std::fopen(path.c_str(), "rb");
    STRIDE_CHECK(file_, path + ": cannot open");
    if (std::fseek(file_, 0, SEEK_END) != 0 || (size_ = std::ftell(file_)) < 0) {
        std::fclose(file_);
        file_ = nullptr;
        throw Error(path + ": cannot read (not a regular file?)");
    }
    try {
        init();
    } catch (...) {
        std::fclose(file_);
        file_ = nullptr;
        throw;
    }
}

Reader::Reader(const uint8_t* data, size_t size, const std::string& source, Limits limits)
    : source_(source), limits_(limits), mem_(data), size_(static_cast<int64_t>(size)) {
    init();
}

Reader::~Reader() {
    if (file_) std::fclose(file_);
}

int64_t Reader::num_rows() const {
    return meta_->num_rows;
}
int Reader::num_row_groups() const {
    return static_cast<int>(meta_->row_groups.size());
}

std::vector<std::string> Reader::columns() const {
    std::vector<std::string> out;
    for (int c : meta_->schema[0].children) out.push_back(meta_->schema[c].name);
    return out;
}

// Every read is bounds-checked against the file, so offsets from a corrupt footer fail here, named.
void Reader::read_at(int64_t offset, int64_t length, std::vector<uint8_t>& out) const {
    if (offset < 0 || length < 0 || offset > size_ || length > size_ - offset)
        throw Error(source_ + ": truncated or corrupt: bytes " + std::to_string(offset) + "+" +
                    std::to_string(length) + " lie outside the file of " + std::to_string(size_) + " bytes");
    out.resize(static_cast<size_t>(length));
    if (length == 0) return;
    if (mem_) {
        std::memcpy(out.data(), mem_ + offset, static_cast<size_t>(length));
        return;
    }
    if (std::fseek(file_, offset, SEEK_SET) != 0 ||
        std::fread(out.data(), 1, static_cast<size_t>(length), file_) != static_cast<size_t>(length))
        throw Error(source_ + ": read failed at byte " + std::to_string(offset));
}

// The layout: "PAR1", the row groups, the footer, its 4-byte length, "PAR1" ("PARE": encrypted).
void Reader::read_footer(std::vector<uint8_t>& footer) const {
    if (size_ < 12) throw Error(source_ + ": not a Parquet file (" + std::to_string(size_) + " bytes)");
    std::vector<uint8_t> b;
    read_at(0, 4, b);
    if (std::memcmp(b.data(), "PAR1", 4) != 0)
        throw Error(source_ + ": not a Parquet file (no PAR1 at the start)");
    read_at(size_ - 8, 8, b);
    if (std::memcmp(b.data() + 4, "PAR1", 4) != 0) {
        if (std::memcmp(b.data() + 4, "PARE", 4) == 0)
            throw Error(source_ + ": an encrypted Parquet file (encryption is not supported)");
        throw Error(source_ + ": truncated or not a Parquet file (no PAR1 at the end)");
    }
    const int64_t footer_len = le32(b.data());
    if (footer_len > size_ - 12)
        throw Error(source_ + ": truncated or corrupt: a footer of " + std::to_string(footer_len) +
                    " bytes does not fit the file of " + std::to_string(size_) + " bytes");
    read_at(size_ - 8 - footer_len, footer_len, footer);
}

void Reader::init() {
    meta_ = std::make_unique<FileMeta>();
    std::vector<uint8_t> footer;
    read_footer(footer);
    parse_file_meta(footer.data(), footer.size(), source_ + ": footer", *meta_);
    build_schema(*meta_, source_);
    check_row_groups(*meta_, limits_, source_);
}

// A chunk's bytes start at its dictionary page when it has one (written before the data pages).
void Reader::read_chunk(const ChunkMeta& c, const std::string& what, std::vector<uint8_t>& bytes) const {
    int64_t start = c.data_page_offset;
    if (c.dictionary_page_offset > 0 && c.dictionary_page_offset < start) start = c.dictionary_page_offset;
    if (start < 4 || start > size_ - 8)
        throw Error(what + ": truncated or corrupt: the chunk starts outside the file");
    read_at(start, c.total_compressed_size, bytes);
}

bool Reader::next_row_group(std::vector<Row>& rows) {
    rows.clear();
    if (next_group_ >= num_row_groups()) return false;
    const int g = next_group_++;
    const RowGroupMeta& rg = meta_->row_groups[g];
    const std::vector<Node>& s = meta_->schema;
    std::vector<uint8_t> bytes;
    for (size_t i = 0; i < meta_->leaves.size(); ++i) {
        const Leaf& leaf = meta_->leaves[i];
        const ChunkMeta& c = rg.columns[i];
        const std::string what =
            source_ + ": row group " + std::to_string(g) + ": column '" + s[leaf.node].path + "'";
        read_chunk(c, what, bytes);
        ChunkValues d = decode_chunk(s[leaf.node], leaf, c, limits_, what, bytes.data(), bytes.size());
        try {
            assemble_leaf(s, leaf, d, rows, i == 0, rg.num_rows, what);
        } catch (const nlohmann::json::exception& e) {
            throw Error(what + ": levels that do not fit the schema (" + e.what() + ")");
        }
    }
    // No leaves: the rows exist (the footer counts them) but hold no columns.
    if (meta_->leaves.empty()) rows.assign(static_cast<size_t>(rg.num_rows), Row::object());
    const std::string what = source_ + ": row group " + std::to_string(g);
    try {
        for (Row& row : rows) shape_row(s, row, what);
    } catch (const nlohmann::json::exception& e) {
        throw Error(what + ": malformed nested values (" + e.what() + ")");
    }
    return true;
}

bool is_parquet_path(const std::string& path) {
    const std::string suffix = ".parquet";
    return path.size() > suffix.size() &&
           path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace stride::parquet
