// The Parquet reader: footer (FileMetaData), schema tree and levels, pages (v1, v2, dictionary),
// decompression, value decoding, and the assembly of rows from repetition and definition levels.
// The format: https://github.com/apache/parquet-format (parquet.thrift, Encodings.md).
#include "job/parquet/parquet_reader.h"

#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "common/base/error.h"
#include "job/parquet/thrift_compact.h"

namespace stride::parquet {

// ---- the footer ----------------------------------------------------------------------------------

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
enum Encoding { kPlain = 0, kPlainDictionary = 2, kRle = 3, kBitPacked = 4, kRleDictionary = 8 };
enum Converted { kUtf8 = 0, kMap = 1, kMapKeyValue = 2, kList = 3, kEnum = 4, kJson = 19 };
// LogicalType is a union; its field ids.
enum Logical {
    kLogNone = 0,
    kLogString = 1,
    kLogMap = 2,
    kLogList = 3,
    kLogEnum = 4,
    kLogInteger = 10,
    kLogNull = 11,
    kLogJson = 12
};

// How a leaf's values become JSON.
enum class Kind { kBool, kInt32, kUInt32, kInt64, kUInt64, kFloat, kDouble, kString, kJson };

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
    std::vector<int> children;
    int def = 0, rep = 0;  // definition and repetition level of this node (root: 0, 0)
    std::string path;      // dotted, from the top-level column
};

struct Leaf {
    int node = 0;
    std::vector<int> path;  // node indices from the top-level column down to the leaf
    Kind kind = Kind::kString;
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
    std::vector<Leaf> leaves;
    int64_t num_rows = 0;
    std::vector<RowGroupMeta> row_groups;
};

namespace {

const char* codec_name(int c) {
    static const char* names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                  "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
    return c >= 0 && c < 8 ? names[c] : "an unknown codec";
}

std::string encoding_name(int e) {
    static const char* names[] = {
        "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
        "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
        "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    return e >= 0 && e < 10 ? names[e] : "encoding " + std::to_string(e);
}

const char* physical_name(int t) {
    static const char* names[] = {"BOOLEAN", "INT32",  "INT64",      "INT96",
                                  "FLOAT",   "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"};
    return t >= 0 && t < 8 ? names[t] : "an unknown type";
}

void parse_logical(ThriftReader& r, Node& n) {
    int16_t last = 0;
    ThriftReader::Field f;
    while (r.next_field(last, f)) {
        r.expect_struct(f);
        n.logical = f.id;
        if (f.id == kLogInteger) {
            int16_t l2 = 0;
            ThriftReader::Field g;
            while (r.next_field(l2, g)) {
                if (g.id == 1)
                    n.int_bits = static_cast<int>(r.read_int(g));
                else if (g.id == 2)
                    n.int_signed = r.read_bool(g);
                else
                    r.skip(g.type);
            }
        } else {
            r.skip(f.type);
        }
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

void parse_file_meta(ThriftReader& r, FileMeta& m) {
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

bool is_list_like(const std::vector<Node>& s, const Node& n) {
    if (n.converted != kList && n.logical != kLogList) return false;
    if (n.children.size() != 1) return false;
    const Node& r = s[n.children[0]];
    return r.repetition == kRepeated && r.children.size() <= 1;
}

bool is_map_like(const std::vector<Node>& s, const Node& n) {
    if (n.converted != kMap && n.logical != kLogMap) return false;
    if (n.children.size() != 1) return false;
    const Node& r = s[n.children[0]];
    if (r.repetition != kRepeated || r.children.size() != 2) return false;
    for (int c : r.children)
        if (s[c].repetition == kRepeated) return false;
    return true;
}

// What a leaf's values become, or the refusal naming the column and what it uses.
Kind leaf_kind(const Node& n, const std::string& source) {
    auto refuse = [&](const std::string& what) -> Kind {
        throw Error(source + ": column '" + n.path + "': " + what + " is not supported");
    };
    if (n.logical == kLogNull) {  // a column of nulls only (pyarrow writes all-None columns so)
        Node plain = n;
        plain.logical = kLogNone;
        plain.converted = -1;
        return leaf_kind(plain, source);
    }
    const int c = n.converted;
    const int l = n.logical;
    switch (n.physical) {
        case kBoolean:
            if (c >= 0 || l != kLogNone) break;
            return Kind::kBool;
        case kInt32:
        case kInt64: {
            bool is64 = n.physical == kInt64;
            if (l == kLogInteger) {
                if (n.int_bits != 8 && n.int_bits != 16 && n.int_bits != 32 && n.int_bits != 64)
                    return refuse("INTEGER of " + std::to_string(n.int_bits) + " bits");
                if (is64) return n.int_signed ? Kind::kInt64 : Kind::kUInt64;
                return n.int_signed ? Kind::kInt32 : Kind::kUInt32;
            }
            if (l != kLogNone) break;
            if (c < 0 || (c >= 15 && c <= 18)) return is64 ? Kind::kInt64 : Kind::kInt32;  // INT_8..INT_64
            if (c >= 11 && c <= 14) return is64 ? Kind::kUInt64 : Kind::kUInt32;           // UINT_8..UINT_64
            break;
        }
        case kFloat:
            if (c >= 0 || l != kLogNone) break;
            return Kind::kFloat;
        case kDouble:
            if (c >= 0 || l != kLogNone) break;
            return Kind::kDouble;
        case kByteArray:
            if (c == kJson || l == kLogJson) return Kind::kJson;
            if ((c < 0 || c == kUtf8 || c == kEnum) && (l == kLogNone || l == kLogString || l == kLogEnum))
                return Kind::kString;
            break;
        default:
            return refuse(std::string("physical type ") + physical_name(n.physical));
    }
    static const char* converted_names[] = {"UTF8",
                                            "MAP",
                                            "MAP_KEY_VALUE",
                                            "LIST",
                                            "ENUM",
                                            "DECIMAL",
                                            "DATE",
                                            "TIME_MILLIS",
                                            "TIME_MICROS",
                                            "TIMESTAMP_MILLIS",
                                            "TIMESTAMP_MICROS",
                                            "UINT_8",
                                            "UINT_16",
                                            "UINT_32",
                                            "UINT_64",
                                            "INT_8",
                                            "INT_16",
                                            "INT_32",
                                            "INT_64",
                                            "JSON",
                                            "BSON",
                                            "INTERVAL"};
    static const char* logical_names[] = {
        "",        "STRING",  "MAP",  "LIST", "ENUM", "DECIMAL", "DATE",    "TIME",     "TIMESTAMP", "(9)",
        "INTEGER", "UNKNOWN", "JSON", "BSON", "UUID", "FLOAT16", "VARIANT", "GEOMETRY", "GEOGRAPHY"};
    std::string what = std::string(physical_name(n.physical));
    if (l != kLogNone)
        what += std::string(" with logical type ") +
                (l > 0 && l < 19 ? logical_names[l] : std::to_string(l).c_str());
    else if (c >= 0)
        what +=
            std::string(" with converted type ") + (c < 22 ? converted_names[c] : std::to_string(c).c_str());
    return refuse(what);
}

// Builds the tree below schema[idx]; returns the index after its subtree.
size_t build_tree(std::vector<Node>& s, size_t idx, int depth, const std::string& source) {
    if (depth > 64) throw Error(source + ": schema nested deeper than 64 levels");
    Node& n = s[idx];
    if (n.num_children < 0 || static_cast<size_t>(n.num_children) > s.size() - idx - 1)
        throw Error(source + ": schema element '" + n.name + "' claims more children than the schema has");
    size_t next = idx + 1;
    for (int i = 0; i < s[idx].num_children; ++i) {
        if (next >= s.size())
            throw Error(source + ": schema element '" + s[idx].name +
                        "' claims more children than the schema has");
        Node& c = s[next];
        const Node& parent = s[idx];
        c.def = parent.def + (c.repetition != kRequired ? 1 : 0);
        c.rep = parent.rep + (c.repetition == kRepeated ? 1 : 0);
        c.path = idx == 0 ? c.name : parent.path + "." + c.name;
        s[idx].children.push_back(static_cast<int>(next));
        next = build_tree(s, next, depth + 1, source);
    }
    return next;
}

void collect_leaves(const std::vector<Node>& s, int idx, std::vector<int>& path, std::vector<Leaf>& out,
                    const std::string& source) {
    const Node& n = s[idx];
    if (idx != 0) path.push_back(idx);
    if (idx != 0 && n.num_children == 0) {
        if (n.physical < 0) throw Error(source + ": column '" + n.path + "' is a group without children");
        out.push_back({idx, path, leaf_kind(n, source)});
    } else {
        if (idx != 0 && n.physical >= 0)
            throw Error(source + ": schema element '" + n.path + "' has a type and children");
        for (int c : n.children) collect_leaves(s, c, path, out, source);
    }
    if (idx != 0) path.pop_back();
}

int bit_width(int max_level) {
    int w = 0;
    while ((1 << w) <= max_level) ++w;
    return w;
}

uint32_t le32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// ---- pages ---------------------------------------------------------------------------------------

struct PageHeader {
    int type = -1;
    int32_t uncompressed = 0, compressed = 0;
    // DATA_PAGE, DATA_PAGE_V2, DICTIONARY_PAGE
    int32_t num_values = 0;
    int encoding = 0;
    int def_encoding = kRle, rep_encoding = kRle;
    int32_t def_bytes = 0, rep_bytes = 0;  // v2
    bool v2_compressed = true;
    bool has_sub = false;
};

enum PageType { kDataPage = 0, kIndexPage = 1, kDictionaryPage = 2, kDataPageV2 = 3 };

PageHeader parse_page_header(ThriftReader& r) {
    PageHeader h;
    int16_t last = 0;
    ThriftReader::Field f;
    while (r.next_field(last, f)) {
        switch (f.id) {
            case 1:
                h.type = r.read_i32(f);
                break;
            case 2:
                h.uncompressed = r.read_i32(f);
                break;
            case 3:
                h.compressed = r.read_i32(f);
                break;
            case 5:
            case 7:
            case 8: {
                r.expect_struct(f);
                h.has_sub = true;
                int16_t l2 = 0;
                ThriftReader::Field g;
                while (r.next_field(l2, g)) {
                    if (g.id == 1) {
                        h.num_values = r.read_i32(g);
                    } else if (f.id == 5 && g.id == 2) {
                        h.encoding = r.read_i32(g);
                    } else if (f.id == 5 && g.id == 3) {
                        h.def_encoding = r.read_i32(g);
                    } else if (f.id == 5 && g.id == 4) {
                        h.rep_encoding = r.read_i32(g);
                    } else if (f.id == 7 && g.id == 2) {
                        h.encoding = r.read_i32(g);
                    } else if (f.id == 8 && g.id == 4) {
                        h.encoding = r.read_i32(g);
                    } else if (f.id == 8 && g.id == 5) {
                        h.def_bytes = r.read_i32(g);
                    } else if (f.id == 8 && g.id == 6) {
                        h.rep_bytes = r.read_i32(g);
                    } else if (f.id == 8 && g.id == 7) {
                        h.v2_compressed = r.read_bool(g);
                    } else {
                        r.skip(g.type);
                    }
                }
                break;
            }
            default:
                r.skip(f.type);
        }
    }
    return h;
}

// Decodes one column chunk into levels and values.
class ChunkDecoder {
   public:
    ChunkDecoder(const FileMeta& m, const Leaf& leaf, const ChunkMeta& chunk, const Limits& limits,
                 std::string what)
        : leaf_(leaf), node_(m.schema[leaf.node]), chunk_(chunk), limits_(limits), what_(std::move(what)) {}

    std::vector<uint16_t> def, rep;
    std::vector<Row> values;  // the non-null values, in order

    void decode(const uint8_t* data, size_t size) {
        size_t pos = 0;
        int64_t seen = 0;
        while (seen < chunk_.num_values) {
            if (pos >= size)
                fail("truncated: the chunk ends after " + std::to_string(seen) + " of " +
                     std::to_string(chunk_.num_values) + " values");
            ThriftReader r(data + pos, size - pos, what_ + ": page header");
            PageHeader h = parse_page_header(r);
            pos += r.consumed();
            if (h.compressed < 0 || h.uncompressed < 0) fail("a page with a negative size");
            if (static_cast<size_t>(h.compressed) > size - pos)
                fail("truncated: a page of " + std::to_string(h.compressed) + " bytes runs past the chunk");
            const uint8_t* page = data + pos;
            pos += h.compressed;
            if (h.type == kIndexPage) continue;
            if (h.type != kDataPage && h.type != kDataPageV2 && h.type != kDictionaryPage)
                fail("unknown page type " + std::to_string(h.type));
            if (!h.has_sub) fail("a page header without its data or dictionary header");
            if (h.num_values < 0) fail("a page with a negative number of values");
            if (h.type == kDictionaryPage) {
                read_dictionary(h, page);
                continue;
            }
            if (h.num_values == 0) fail("a data page without values");
            seen += h.num_values;
            if (seen > chunk_.num_values) fail("the pages hold more values than the column chunk says");
            if (seen > limits_.max_chunk_values)
                fail("more than " + std::to_string(limits_.max_chunk_values) + " values in one column chunk");
            if (h.type == kDataPage)
                read_v1(h, page);
            else
                read_v2(h, page);
        }
    }

   private:
    [[noreturn]] void fail(const std::string& why) const { throw Error(what_ + ": " + why); }
    [[noreturn]] void unsupported(const std::string& feature) const {
        throw Error(what_ + ": " + feature + " is not supported");
    }

    void check_page_size(int64_t n) const {
        if (n > limits_.max_page_bytes)
            fail("a page of " + std::to_string(n) + " bytes is over the limit of " +
                 std::to_string(limits_.max_page_bytes));
    }

    // src[0, n) decompressed into exactly `expected` bytes.
    void decompress(const uint8_t* src, size_t n, size_t expected, std::vector<uint8_t>& out) const {
        check_page_size(static_cast<int64_t>(expected));
        out.resize(expected);
        switch (chunk_.codec) {
            case kUncompressed:
                if (n != expected) fail("an uncompressed page whose two sizes differ");
                if (n) std::memcpy(out.data(), src, n);
                return;
            case kSnappy: {
                size_t len = 0;
                if (!snappy::GetUncompressedLength(reinterpret_cast<const char*>(src), n, &len) ||
                    len != expected)
                    fail("a Snappy page that does not decompress to its stated size");
                if (!snappy::RawUncompress(reinterpret_cast<const char*>(src), n,
                                           reinterpret_cast<char*>(out.data())))
                    fail("a corrupt Snappy page");
                return;
            }
            case kZstd: {
                size_t got = ZSTD_decompress(out.data(), expected, src, n);
                if (ZSTD_isError(got))
                    fail(std::string("a corrupt Zstd page (") + ZSTD_getErrorName(got) + ")");
                if (got != expected) fail("a Zstd page that does not decompress to its stated size");
                return;
            }
            case kGzip: {
                z_stream zs{};
                if (inflateInit2(&zs, 15 + 32) != Z_OK) fail("zlib initialisation failed");
                zs.next_in = const_cast<Bytef*>(src);
                zs.avail_in = static_cast<uInt>(n);
                zs.next_out = out.data();
                zs.avail_out = static_cast<uInt>(expected);
                int rc = Z_OK;
                while (true) {
                    rc = inflate(&zs, Z_NO_FLUSH);
                    if (rc == Z_STREAM_END && zs.avail_in > 0 && zs.avail_out > 0) {
                        inflateReset(&zs);  // concatenated gzip members
                        continue;
                    }
                    break;
                }
                size_t got = expected - zs.avail_out;
                inflateEnd(&zs);
                if (rc != Z_STREAM_END || got != expected)
                    fail("a Gzip page that does not decompress to its stated size");
                return;
            }
            default:
                unsupported(std::string("compression ") + codec_name(chunk_.codec));
        }
    }

    // The RLE / bit-packed hybrid: `count` values of `width` bits from [p, end).
    template <typename T>
    void hybrid(const uint8_t* p, const uint8_t* end, int width, size_t count, std::vector<T>& out,
                const char* what) const {
        if (width > 32) fail(std::string(what) + ": a bit width over 32");
        const size_t target = out.size() + count;
        const size_t value_bytes = (width + 7) / 8;
        while (out.size() < target) {
            uint64_t header = 0;
            for (int shift = 0;; shift += 7) {
                if (p >= end) fail(std::string(what) + ": truncated");
                if (shift > 63) fail(std::string(what) + ": a bad run header");
                header |= static_cast<uint64_t>(*p & 0x7f) << shift;
                if (!(*p++ & 0x80)) break;
            }
            if (header & 1) {  // bit-packed groups of 8
                uint64_t groups = header >> 1;
                if (width > 0 && groups > static_cast<uint64_t>(end - p) / width)
                    fail(std::string(what) + ": a bit-packed run longer than the data");
                uint64_t n = std::min<uint64_t>(groups * 8, target - out.size());
                if (width == 0) {
                    out.insert(out.end(), n, T{0});
                    continue;
                }
                const uint64_t mask = width == 32 ? 0xffffffffull : ((1ull << width) - 1);
                const uint64_t run_bytes = groups * width;
                for (uint64_t i = 0; i < n; ++i) {  // LSB first; a value spans at most 5 bytes
                    const uint64_t bit = i * width;
                    const uint64_t at = bit / 8;
                    uint64_t window = 0;
                    for (uint64_t k = 0; k < 5 && at + k < run_bytes; ++k)
                        window |= static_cast<uint64_t>(p[at + k]) << (8 * k);
                    out.push_back(static_cast<T>((window >> (bit % 8)) & mask));
                }
                p += groups * width;
            } else {  // a run of one value
                uint64_t run = header >> 1;
                if (static_cast<size_t>(end - p) < value_bytes) fail(std::string(what) + ": truncated");
                uint64_t v = 0;
                for (size_t k = 0; k < value_bytes; ++k) v |= static_cast<uint64_t>(p[k]) << (8 * k);
                p += value_bytes;
                if (width < 32 && (v >> width))
                    fail(std::string(what) + ": a run value wider than its bit width");
                out.insert(out.end(), std::min<uint64_t>(run, target - out.size()), static_cast<T>(v));
            }
        }
    }

    void levels(const uint8_t* p, const uint8_t* end, int max, size_t count, std::vector<uint16_t>& out,
                const char* what) {
        const size_t before = out.size();
        hybrid(p, end, bit_width(max), count, out, what);
        for (size_t i = before; i < out.size(); ++i)
            if (out[i] > max) fail(std::string(what) + ": a level above the column's maximum");
    }

    // v1 levels: a 4-byte length, then the hybrid encoding.
    size_t levels_v1(const uint8_t* p, size_t n, int encoding, int max, size_t count,
                     std::vector<uint16_t>& out, const char* what) {
        if (max == 0) return 0;
        if (encoding != kRle) unsupported(std::string(what) + " encoded as " + encoding_name(encoding));
        if (n < 4) fail(std::string(what) + ": truncated");
        uint32_t len = le32(p);
        if (len > n - 4) fail(std::string(what) + ": longer than the page");
        levels(p + 4, p + 4 + len, max, count, out, what);
        return 4 + len;
    }

    void read_v1(const PageHeader& h, const uint8_t* page) {
        decompress(page, h.compressed, h.uncompressed, buf_);
        const uint8_t* p = buf_.data();
        size_t n = buf_.size();
        size_t used = levels_v1(p, n, h.rep_encoding, node_.rep, h.num_values, rep, "repetition levels");
        used +=
            levels_v1(p + used, n - used, h.def_encoding, node_.def, h.num_values, def, "definition levels");
        finish_levels(h.num_values);
        read_values(h.encoding, p + used, p + n);
    }

    void read_v2(const PageHeader& h, const uint8_t* page) {
        if (h.rep_bytes < 0 || h.def_bytes < 0 ||
            static_cast<int64_t>(h.rep_bytes) + h.def_bytes > h.compressed ||
            static_cast<int64_t>(h.rep_bytes) + h.def_bytes > h.uncompressed)
            fail("a v2 page whose level lengths exceed the page");
        const uint8_t* p = page;
        if (node_.rep > 0) levels(p, p + h.rep_bytes, node_.rep, h.num_values, rep, "repetition levels");
        p += h.rep_bytes;
        if (node_.def > 0) levels(p, p + h.def_bytes, node_.def, h.num_values, def, "definition levels");
        p += h.def_bytes;
        finish_levels(h.num_values);
        const size_t body = h.compressed - h.rep_bytes - h.def_bytes;
        const size_t expected = h.uncompressed - h.rep_bytes - h.def_bytes;
        if (h.v2_compressed && chunk_.codec != kUncompressed) {
            decompress(p, body, expected, buf_);
        } else {
            if (body != expected) fail("an uncompressed page whose two sizes differ");
            buf_.assign(p, p + body);
        }
        read_values(h.encoding, buf_.data(), buf_.data() + buf_.size());
    }

    // Columns without levels: every value is there.
    void finish_levels(int32_t n) {
        if (node_.rep == 0) rep.insert(rep.end(), n, 0);
        if (node_.def == 0) def.insert(def.end(), n, 0);
        page_values_ = n;
    }

    void read_dictionary(const PageHeader& h, const uint8_t* page) {
        if (h.encoding != kPlain && h.encoding != kPlainDictionary)
            unsupported("a dictionary page encoded as " + encoding_name(h.encoding));
        if (have_dict_) fail("a second dictionary page");
        if (h.num_values > limits_.max_chunk_values) fail("a dictionary over the value limit");
        decompress(page, h.compressed, h.uncompressed, buf_);
        const uint8_t* p = buf_.data();
        plain(p, buf_.data() + buf_.size(), h.num_values, dict_);
        have_dict_ = true;
    }

    void read_values(int encoding, const uint8_t* p, const uint8_t* end) {
        // How many of this page's entries hold a value: those at the leaf's full definition level.
        size_t present = 0;
        for (size_t i = def.size() - page_values_; i < def.size(); ++i) present += def[i] == node_.def;
        switch (encoding) {
            case kPlain:
                plain(p, end, present, values);
                return;
            case kPlainDictionary:
            case kRleDictionary: {
                if (!have_dict_) fail("a dictionary-encoded page without a dictionary page");
                if (present == 0) return;
                if (p >= end) fail("dictionary indices: truncated");
                int width = *p++;
                idx_.clear();
                hybrid(p, end, width, present, idx_, "dictionary indices");
                for (uint32_t i : idx_) {
                    if (i >= dict_.size()) fail("a dictionary index out of range");
                    values.push_back(dict_[i]);
                }
                return;
            }
            case kRle: {
                if (node_.physical != kBoolean)
                    unsupported("RLE encoding of " + std::string(physical_name(node_.physical)));
                if (end - p < 4) fail("RLE booleans: truncated");
                uint32_t len = le32(p);
                if (len > static_cast<size_t>(end - p - 4)) fail("RLE booleans: longer than the page");
                idx_.clear();
                hybrid(p + 4, p + 4 + len, 1, present, idx_, "RLE booleans");
                for (uint32_t v : idx_) values.emplace_back(v != 0);
                return;
            }
            default:
                unsupported("encoding " + encoding_name(encoding));
        }
    }

    Row convert_string(const uint8_t* p, size_t n) {
        std::string s(reinterpret_cast<const char*>(p), n);
        if (leaf_.kind == Kind::kJson) {
            Row j = Row::parse(s, nullptr, false);
            if (j.is_discarded()) fail("a JSON value that does not parse");
            return j;
        }
        return Row(valid_utf8(s) ? std::move(s) : replace_invalid_utf8(s));
    }

    static bool valid_utf8(const std::string& s) {
        size_t i = 0, n = s.size();
        while (i < n) {
            unsigned char c = s[i];
            if (c < 0x80) {
                ++i;
                continue;
            }
            size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
            if (len == 0 || i + len > n) return false;
            uint32_t cp = c & (0x7f >> len);
            for (size_t k = 1; k < len; ++k) {
                unsigned char d = s[i + k];
                if ((d & 0xc0) != 0x80) return false;
                cp = (cp << 6) | (d & 0x3f);
            }
            if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return false;
            i += len;
        }
        return true;
    }
    // Each byte that does not start a valid sequence becomes U+FFFD.
    static std::string replace_invalid_utf8(const std::string& s) {
        std::string out;
        size_t i = 0;
        while (i < s.size()) {
            size_t len = 1;
            unsigned char c = s[i];
            if (c >= 0x80) len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
            if (len && i + len <= s.size() && valid_utf8(s.substr(i, len))) {
                out.append(s, i, len);
                i += len;
            } else {
                out += "\xEF\xBF\xBD";
                ++i;
            }
        }
        return out;
    }

    void plain(const uint8_t* p, const uint8_t* end, size_t count, std::vector<Row>& out) {
        const size_t avail = static_cast<size_t>(end - p);
        auto need = [&](size_t width) {
            if (count > avail / width) fail("PLAIN values: truncated");
        };
        switch (node_.physical) {
            case kBoolean:
                if (count > avail * 8) fail("PLAIN booleans: truncated");
                for (size_t i = 0; i < count; ++i) out.emplace_back(((p[i / 8] >> (i % 8)) & 1) != 0);
                return;
            case kInt32:
                need(4);
                for (size_t i = 0; i < count; ++i) {
                    uint32_t v = le32(p + 4 * i);
                    if (leaf_.kind == Kind::kUInt32)
                        out.emplace_back(static_cast<uint64_t>(v));
                    else
                        out.emplace_back(static_cast<int64_t>(static_cast<int32_t>(v)));
                }
                return;
            case kInt64:
                need(8);
                for (size_t i = 0; i < count; ++i) {
                    uint64_t v;
                    std::memcpy(&v, p + 8 * i, 8);
                    if (leaf_.kind == Kind::kUInt64)
                        out.emplace_back(v);
                    else
                        out.emplace_back(static_cast<int64_t>(v));
                }
                return;
            case kFloat:
                need(4);
                for (size_t i = 0; i < count; ++i) {
                    float v;
                    std::memcpy(&v, p + 4 * i, 4);
                    out.emplace_back(static_cast<double>(v));
                }
                return;
            case kDouble:
                need(8);
                for (size_t i = 0; i < count; ++i) {
                    double v;
                    std::memcpy(&v, p + 8 * i, 8);
                    out.emplace_back(v);
                }
                return;
            case kByteArray:
                if (count > avail / 4) fail("PLAIN byte arrays: truncated");
                for (size_t i = 0; i < count; ++i) {
                    if (end - p < 4) fail("PLAIN byte arrays: truncated");
                    uint32_t len = le32(p);
                    p += 4;
                    if (len > static_cast<size_t>(end - p)) fail("PLAIN byte arrays: a length past the page");
                    out.push_back(convert_string(p, len));
                    p += len;
                }
                return;
            default:
                unsupported(std::string("physical type ") + physical_name(node_.physical));
        }
    }

    const Leaf& leaf_;
    const Node& node_;
    const ChunkMeta& chunk_;
    const Limits& limits_;
    std::string what_;
    std::vector<uint8_t> buf_;
    std::vector<Row> dict_;
    std::vector<uint32_t> idx_;
    bool have_dict_ = false;
    int32_t page_values_ = 0;
};

// ---- rows from levels ----------------------------------------------------------------------------

// Writes one leaf column's values into the rows, following its repetition and definition levels
// (Dremel record assembly). Rows are created by the first leaf and only filled in by the others.
void assemble_leaf(const std::vector<Node>& s, const Leaf& leaf, const ChunkDecoder& d,
                   std::vector<Row>& rows, bool first, int64_t num_rows, const std::string& what) {
    const Node& ln = s[leaf.node];
    std::vector<size_t> cursor(ln.rep + 1, 0);
    int64_t row = -1;
    size_t vi = 0;
    const size_t n = d.def.size();
    if (d.rep.size() != n) throw Error(what + ": repetition and definition levels differ in number");
    for (size_t i = 0; i < n; ++i) {
        const int r = d.rep[i];
        const int dl = d.def[i];
        if (r == 0) {
            ++row;
            if (row >= num_rows)
                throw Error(what + ": more rows than the row group's " + std::to_string(num_rows));
            if (first)
                rows.emplace_back(Row::object());
            else if (static_cast<size_t>(row) >= rows.size())
                throw Error(what + ": more rows than the other columns");
        } else if (row < 0) {
            throw Error(what + ": the first value continues a row");
        }
        for (int j = 1; j <= ln.rep; ++j) {
            if (j == r)
                ++cursor[j];
            else if (j > r)
                cursor[j] = 0;
        }
        Row* cur = &rows[row];
        for (size_t k = 0; k < leaf.path.size(); ++k) {
            const Node& node = s[leaf.path[k]];
            const bool is_leaf = k + 1 == leaf.path.size();
            if (!cur->is_object()) throw Error(what + ": levels that do not fit the schema");
            Row& obj = *cur;
            if (dl < node.def) {  // not defined here: a null, or an empty list
                auto it = obj.find(node.name);
                if (it == obj.end())
                    obj[node.name] = node.repetition == kRepeated ? Row::array() : Row(nullptr);
                break;
            }
            auto fresh = [&]() -> Row {
                if (!is_leaf) return Row::object();
                if (vi >= d.values.size()) throw Error(what + ": fewer values than the levels say");
                return d.values[vi++];
            };
            if (node.repetition == kRepeated) {
                Row& arr = obj[node.name];
                if (arr.is_null()) arr = Row::array();
                if (!arr.is_array()) throw Error(what + ": levels that do not fit the schema");
                const size_t idx = cursor[node.rep];
                if (idx == arr.size())
                    arr.push_back(fresh());
                else if (idx > arr.size() || is_leaf)
                    throw Error(what + ": levels that do not fit the schema");
                cur = &arr[idx];
            } else if (is_leaf) {
                obj[node.name] = fresh();
            } else {
                Row& child = obj[node.name];
                if (child.is_null()) child = Row::object();
                cur = &child;
            }
        }
    }
    if (vi != d.values.size()) throw Error(what + ": more values than the levels say");
    if (row + 1 != num_rows)
        throw Error(what + ": " + std::to_string(row + 1) + " rows where the row group has " +
                    std::to_string(num_rows));
}

void shape_value(const std::vector<Node>& s, const Node& n, Row& v, const std::string& what);

// A field's value: an array of elements when the node repeats.
void shape_field(const std::vector<Node>& s, const Node& n, Row& v, const std::string& what) {
    if (n.repetition == kRepeated) {
        if (!v.is_array()) return;
        for (Row& e : v) shape_value(s, n, e, what);
    } else {
        shape_value(s, n, v, what);
    }
}

// LIST groups become arrays of their elements and MAP groups objects; structs recurse.
void shape_value(const std::vector<Node>& s, const Node& n, Row& v, const std::string& what) {
    if (v.is_null() || n.children.empty()) return;
    if (is_list_like(s, n)) {
        const Node& r = s[n.children[0]];
        Row out = Row::array();
        auto it = v.find(r.name);
        if (it != v.end() && it->is_array()) {
            for (Row& e : *it) {
                if (r.children.size() == 1) {
                    const Node& el = s[r.children[0]];
                    auto f = e.find(el.name);
                    Row x = f == e.end() ? Row(nullptr) : std::move(*f);
                    shape_field(s, el, x, what);
                    out.push_back(std::move(x));
                } else {
                    shape_value(s, r, e, what);
                    out.push_back(std::move(e));
                }
            }
        }
        v = std::move(out);
        return;
    }
    if (is_map_like(s, n)) {
        const Node& r = s[n.children[0]];
        const Node* key = nullptr;
        const Node* val = nullptr;
        for (int c : r.children) (s[c].name == "key" ? key : val) = &s[c];
        if (!key || !val) throw Error(what + ": column '" + n.path + "': a MAP without a 'key' field");
        Row out = Row::object();
        auto it = v.find(r.name);
        if (it != v.end() && it->is_array()) {
            for (Row& e : *it) {
                Row k = e.contains(key->name) ? e[key->name] : Row(nullptr);
                Row x = e.contains(val->name) ? std::move(e[val->name]) : Row(nullptr);
                shape_field(s, *val, x, what);
                std::string ks;
                if (k.is_string())
                    ks = k.get<std::string>();
                else if (k.is_number() || k.is_boolean())
                    ks = k.dump();
                else
                    throw Error(what + ": column '" + n.path +
                                "': a MAP key that is not a string or a number");
                out[ks] = std::move(x);
            }
        }
        v = std::move(out);
        return;
    }
    if (!v.is_object()) return;
    for (int c : n.children) {
        auto it = v.find(s[c].name);
        if (it != v.end()) shape_field(s, s[c], *it, what);
    }
}

}  // namespace

// ---- the reader ----------------------------------------------------------------------------------

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

void Reader::init() {
    meta_ = std::make_unique<FileMeta>();
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
    read_at(size_ - 8 - footer_len, footer_len, b);
    ThriftReader r(b.data(), b.size(), source_ + ": footer");
    parse_file_meta(r, *meta_);

    std::vector<Node>& s = meta_->schema;
    if (s.empty()) throw Error(source_ + ": the footer has no schema");
    if (build_tree(s, 0, 0, source_) != s.size())
        throw Error(source_ + ": the schema has elements outside its tree");
    std::vector<int> path;
    collect_leaves(s, 0, path, meta_->leaves, source_);
    if (meta_->num_rows < 0) throw Error(source_ + ": a negative number of rows");
    int64_t total = 0;
    for (size_t g = 0; g < meta_->row_groups.size(); ++g) {
        const RowGroupMeta& rg = meta_->row_groups[g];
        const std::string where = source_ + ": row group " + std::to_string(g);
        if (rg.num_rows < 0 || rg.num_rows > limits_.max_chunk_values)
            throw Error(where + ": a bad number of rows (" + std::to_string(rg.num_rows) + ")");
        total += rg.num_rows;
        if (rg.columns.size() != meta_->leaves.size())
            throw Error(where + ": " + std::to_string(rg.columns.size()) + " column chunks for " +
                        std::to_string(meta_->leaves.size()) + " columns");
        for (size_t i = 0; i < rg.columns.size(); ++i) {
            const ChunkMeta& c = rg.columns[i];
            const Node& n = s[meta_->leaves[i].node];
            const std::string col = where + ": column '" + n.path + "'";
            if (c.external) throw Error(col + ": a column chunk in another file is not supported");
            if (c.codec != kUncompressed && c.codec != kSnappy && c.codec != kGzip && c.codec != kZstd)
                throw Error(col + ": compression " + codec_name(c.codec) +
                            " is not supported (UNCOMPRESSED, SNAPPY, GZIP, ZSTD are)");
            if (c.physical != n.physical) throw Error(col + ": the chunk's type differs from the schema's");
            if (c.num_values < 0 || c.total_compressed_size < 0)
                throw Error(col + ": negative sizes in the chunk's metadata");
        }
    }
    if (total != meta_->num_rows)
        throw Error(source_ + ": the row groups hold " + std::to_string(total) + " rows, the footer says " +
                    std::to_string(meta_->num_rows));
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
        int64_t start = c.data_page_offset;
        if (c.dictionary_page_offset > 0 && c.dictionary_page_offset < start)
            start = c.dictionary_page_offset;
        if (start < 4 || start > size_ - 8)
            throw Error(what + ": truncated or corrupt: the chunk starts outside the file");
        read_at(start, c.total_compressed_size, bytes);
        ChunkDecoder d(*meta_, leaf, c, limits_, what);
        d.decode(bytes.data(), bytes.size());
        try {
            assemble_leaf(s, leaf, d, rows, i == 0, rg.num_rows, what);
        } catch (const nlohmann::json::exception& e) {
            throw Error(what + ": levels that do not fit the schema (" + e.what() + ")");
        }
    }
    if (meta_->leaves.empty()) rows.assign(static_cast<size_t>(rg.num_rows), Row::object());
    const std::string what = source_ + ": row group " + std::to_string(g);
    try {
        for (Row& row : rows)
            for (int c : s[0].children) {
                auto it = row.find(s[c].name);
                if (it != row.end()) shape_field(s, s[c], *it, what);
            }
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
