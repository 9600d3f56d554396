// The footer's Thrift structs (parquet.thrift: FileMetaData, SchemaElement, RowGroup, ColumnChunk,
// ColumnMetaData, LogicalType), keeping only the fields the reader uses and skipping the rest.
#include "job/parquet/file_meta.h"

#include "common/base/error.h"
#include "job/parquet/thrift_compact.h"

namespace stride::parquet {

namespace {

// IntType is the one logical type with parameters we need: its width and signedness.
void parse_int_type(ThriftReader& r, Node& n) {
    int16_t last = 0;
    ThriftReader::Field g;
    while (r.next_field(last, g)) {
        if (g.id == 1)
            n.int_bits = static_cast<int>(r.read_int(g));
        else if (g.id == 2)
            n.int_signed = r.read_bool(g);
        else
            r.skip(g.type);
    }
}

// DECIMAL's scale (its precision only bounds the digits, which the bytes already do).
void parse_decimal_type(ThriftReader& r, Node& n) {
    int16_t last = 0;
    ThriftReader::Field g;
    while (r.next_field(last, g)) {
        if (g.id == 1)
            n.scale = r.read_i32(g);
        else
            r.skip(g.type);
    }
}

// TIME and TIMESTAMP: isAdjustedToUTC, and the unit (a union of empty structs: the field id names it).
void parse_time_type(ThriftReader& r, Node& n) {
    int16_t last = 0;
    ThriftReader::Field g;
    while (r.next_field(last, g)) {
        if (g.id == 1) {
            n.utc = r.read_bool(g);
        } else if (g.id == 2) {
            r.expect_struct(g);
            int16_t unit_last = 0;
            ThriftReader::Field u;
            while (r.next_field(unit_last, u)) {
                n.time_unit = u.id - 1;
                r.skip(u.type);
            }
        } else {
            r.skip(g.type);
        }
    }
}

// A union: the field id that is set names the logical type.
void parse_logical(ThriftReader& r, Node& n) {
    int16_t last = 0;
    ThriftReader::Field f;
    while (r.next_field(last, f)) {
        r.expect_struct(f);
        n.logical = f.id;
        if (f.id == kLogInteger)
            parse_int_type(r, n);
        else if (f.id == kLogDecimal)
            parse_decimal_type(r, n);
        else if (f.id == kLogTime || f.id == kLogTimestamp)
            parse_time_type(r, n);
        else
            r.skip(f.type);
    }
}

Node parse_schema_element(ThriftReader& r) {
    Node n;
    int16_t last = 0;
    ThriftReader::Field f;
    while (r.next_field(last, f)) {
        switch (f.id) {
            case 1:
                n.physical = r.read_i32(f);
                break;
            case 2:
                n.type_length = r.read_i32(f);
                break;
            case 3:
                n.repetition = r.read_i32(f);
                break;
            case 4:
                n.name = std::string(r.read_binary(f));
                break;
            case 5:
                n.num_children = r.read_i32(f);
                break;
            case 6:
                n.converted = r.read_i32(f);
                break;
            case 7:
                n.scale = r.read_i32(f);
                break;
            case 10:
                r.expect_struct(f);
                parse_logical(r, n);
                break;
            default:
                r.skip(f.type);
        }
    }
    if (n.repetition < 0 || n.repetition > 2) r.fail("schema element '" + n.name + "' has a bad repetition");
    return n;
}

ChunkMeta parse_column_meta(ThriftReader& r) {
    ChunkMeta c;
    int16_t last = 0;
    ThriftReader::Field f;
    while (r.next_field(last, f)) {
        switch (f.id) {
            case 1:
                c.physical = r.read_i32(f);
                break;
            case 3: {
                uint8_t et;
                uint32_t n = r.read_list(f, et);
                for (uint32_t i = 0; i < n; ++i) c.path.emplace_back(r.read_binary_elem(et));
                break;
            }
            case 4:
                c.codec = r.read_i32(f);
                break;
            case 5:
                c.num_values = r.read_int(f);
                break;
            case 7:
                c.total_compressed_size = r.read_int(f);
                break;
            case 9:
                c.data_page_offset = r.read_int(f);
                break;
            case 11:
                c.dictionary_page_offset = r.read_int(f);
                break;
            default:
                r.skip(f.type);
        }
    }
    return c;
}

// A ColumnChunk: its file_path (set only when the chunk lives in another file) and its metadata.
ChunkMeta parse_column_chunk(ThriftReader& r) {
    ChunkMeta c;
    bool has_meta = false;
    bool external = false;
    int16_t last = 0;
    ThriftReader::Field f;
    while (r.next_field(last, f)) {
        if (f.id == 1 && f.type == kTBinary) {
            external = !r.read_binary(f).empty();
        } else if (f.id == 3) {
            r.expect_struct(f);
            c = parse_column_meta(r);
            has_meta = true;
        } else {
            r.skip(f.type);
        }
    }
    if (!has_meta) r.fail("a column chunk without its metadata");
    c.external = external;
    return c;
}

RowGroupMeta parse_row_group(ThriftReader& r) {
    RowGroupMeta g;
    int16_t last = 0;
    ThriftReader::Field f;
    while (r.next_field(last, f)) {
        if (f.id == 1) {
            uint8_t et;
            uint32_t n = r.read_list(f, et);
            r.expect_struct_elem(et);
            for (uint32_t i = 0; i < n; ++i) g.columns.push_back(parse_column_chunk(r));
        } else if (f.id == 3) {
            g.num_rows = r.read_int(f);
        } else {
            r.skip(f.type);
        }
    }
    return g;
}

// What a row group's chunk promises that the decoder relies on, or the refusal naming the column.
void check_chunk(const ChunkMeta& c, const Node& n, const std::string& col) {
    if (c.external) throw Error(col + ": a column chunk in another file is not supported");
    if (c.codec == kLzo || c.codec < kUncompressed || c.codec > kLz4Raw)
        throw Error(col + ": compression " + codec_name(c.codec) +
                    " is not supported (UNCOMPRESSED, SNAPPY, GZIP, ZSTD, BROTLI, LZ4, LZ4_RAW are)");
    if (c.physical != n.physical) throw Error(col + ": the chunk's type differs from the schema's");
    if (c.num_values < 0 || c.total_compressed_size < 0)
        throw Error(col + ": negative sizes in the chunk's metadata");
}

void check_row_group(const FileMeta& m, const RowGroupMeta& rg, const Limits& limits,
                     const std::string& where) {
    if (rg.num_rows < 0 || rg.num_rows > limits.max_chunk_values)
        throw Error(where + ": a bad number of rows (" + std::to_string(rg.num_rows) + ")");
    if (rg.columns.size() != m.leaves.size())
        throw Error(where + ": " + std::to_string(rg.columns.size()) + " column chunks for " +
                    std::to_string(m.leaves.size()) + " columns");
    for (size_t i = 0; i < rg.columns.size(); ++i) {
        const Node& n = m.schema[m.leaves[i].node];
        check_chunk(rg.columns[i], n, where + ": column '" + n.path + "'");
    }
}

}  // namespace

void parse_file_meta(const uint8_t* data, size_t size, const std::string& what, FileMeta& m) {
    ThriftReader r(data, size, what);
    int16_t last = 0;
    ThriftReader::Field f;
    while (r.next_field(last, f)) {
        if (f.id == 2) {
            uint8_t et;
            uint32_t n = r.read_list(f, et);
            r.expect_struct_elem(et);
            for (uint32_t i = 0; i < n; ++i) m.schema.push_back(parse_schema_element(r));
        } else if (f.id == 3) {
            m.num_rows = r.read_int(f);
        } else if (f.id == 4) {
            uint8_t et;
            uint32_t n = r.read_list(f, et);
            r.expect_struct_elem(et);
            for (uint32_t i = 0; i < n; ++i) m.row_groups.push_back(parse_row_group(r));
        } else {
            r.skip(f.type);
        }
    }
}

void check_row_groups(const FileMeta& m, const Limits& limits, const std::string& source) {
    if (m.num_rows < 0) throw Error(source + ": a negative number of rows");
    int64_t total = 0;
    for (size_t g = 0; g < m.row_groups.size(); ++g) {
        check_row_group(m, m.row_groups[g], limits, source + ": row group " + std::to_string(g));
        total += m.row_groups[g].num_rows;
    }
    if (total != m.num_rows)
        throw Error(source + ": the row groups hold " + std::to_string(total) + " rows, the footer says " +
                    std::to_string(m.num_rows));
}

}  // namespace stride::parquet
