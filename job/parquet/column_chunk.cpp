// Walks a chunk's pages in order: a dictionary page (at most one, first) is kept for the data pages
// that index it; each data page appends its levels, then its values in PLAIN, dictionary, RLE
// (booleans), DELTA_* or BYTE_STREAM_SPLIT encoding (the last two through delta.h, as PLAIN bytes).
// Index pages are skipped. The chunk's value count bounds the walk.
#include "job/parquet/column_chunk.h"

#include "common/base/error.h"
#include "job/parquet/delta.h"
#include "job/parquet/page.h"
#include "job/parquet/plain.h"
#include "job/parquet/rle_hybrid.h"

namespace stride::parquet {

namespace {

class ChunkDecoder {
   public:
    ChunkDecoder(const Node& node, const Leaf& leaf, const ChunkMeta& chunk, const Limits& limits,
                 const std::string& what)
        : leaf_(leaf), node_(node), chunk_(chunk), limits_(limits), what_(what) {}

    ChunkValues out;

    void decode(const uint8_t* data, size_t size) {
        size_t pos = 0;
        int64_t seen = 0;
        while (seen < chunk_.num_values) {
            if (pos >= size)
                fail("truncated: the chunk ends after " + std::to_string(seen) + " of " +
                     std::to_string(chunk_.num_values) + " values");
            const uint8_t* page = nullptr;
            PageHeader h = next_page(data, size, pos, page);
            if (h.type == kIndexPage) continue;
            check_header(h);
            if (h.type == kDictionaryPage) {
                read_dictionary(h, page);
                continue;
            }
            count_values(h, seen);
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
    std::string what(const char* part) const { return what_ + ": " + part; }

    // The header at data[pos] and where its page's bytes start; pos moves past the page.
    PageHeader next_page(const uint8_t* data, size_t size, size_t& pos, const uint8_t*& page) const {
        ThriftReader r(data + pos, size - pos, what_ + ": page header");
        PageHeader h = parse_page_header(r);
        pos += r.consumed();
        if (h.compressed < 0 || h.uncompressed < 0) fail("a page with a negative size");
        if (static_cast<size_t>(h.compressed) > size - pos)
            fail("truncated: a page of " + std::to_string(h.compressed) + " bytes runs past the chunk");
        page = data + pos;
        pos += h.compressed;
        return h;
    }

    void check_header(const PageHeader& h) const {
        if (h.type != kDataPage && h.type != kDataPageV2 && h.type != kDictionaryPage)
            fail("unknown page type " + std::to_string(h.type));
        if (!h.has_sub) fail("a page header without its data or dictionary header");
        if (h.num_values < 0) fail("a page with a negative number of values");
    }

    // A data page's entries count towards the chunk's; more than it says, or than the limit, is refused
    // before the levels are allocated.
    void count_values(const PageHeader& h, int64_t& seen) const {
        if (h.num_values == 0) fail("a data page without values");
        seen += h.num_values;
        if (seen > chunk_.num_values) fail("the pages hold more values than the column chunk says");
        if (seen > limits_.max_chunk_values)
            fail("more than " + std::to_string(limits_.max_chunk_values) + " values in one column chunk");
    }

    void decompress_page(const uint8_t* src, size_t n, size_t expected) {
        decompress(chunk_.codec, src, n, expected, limits_.max_page_bytes, buf_, what_);
    }

    // v1: the whole page is compressed; levels (each behind a length) then values.
    void read_v1(const PageHeader& h, const uint8_t* page) {
        decompress_page(page, h.compressed, h.uncompressed);
        const uint8_t* p = buf_.data();
        size_t n = buf_.size();
        size_t used = decode_levels_v1(p, n, h.rep_encoding, node_.rep, h.num_values, out.rep, what_,
                                       "repetition levels");
        used += decode_levels_v1(p + used, n - used, h.def_encoding, node_.def, h.num_values, out.def, what_,
                                 "definition levels");
        finish_levels(h.num_values);
        read_values(h.encoding, p + used, p + n);
    }

    // v2: the levels come first, uncompressed and of stated lengths; only the values may be compressed.
    void read_v2(const PageHeader& h, const uint8_t* page) {
        if (h.rep_bytes < 0 || h.def_bytes < 0 ||
            static_cast<int64_t>(h.rep_bytes) + h.def_bytes > h.compressed ||
            static_cast<int64_t>(h.rep_bytes) + h.def_bytes > h.uncompressed)
            fail("a v2 page whose level lengths exceed the page");
        const uint8_t* p = page;
        if (node_.rep > 0)
            decode_levels(p, p + h.rep_bytes, node_.rep, h.num_values, out.rep, what("repetition levels"));
        p += h.rep_bytes;
        if (node_.def > 0)
            decode_levels(p, p + h.def_bytes, node_.def, h.num_values, out.def, what("definition levels"));
        p += h.def_bytes;
        finish_levels(h.num_values);
        const size_t body = h.compressed - h.rep_bytes - h.def_bytes;
        const size_t expected = h.uncompressed - h.rep_bytes - h.def_bytes;
        if (h.v2_compressed && chunk_.codec != kUncompressed) {
            decompress_page(p, body, expected);
        } else {
            if (body != expected) fail("an uncompressed page whose two sizes differ");
            buf_.assign(p, p + body);
        }
        read_values(h.encoding, buf_.data(), buf_.data() + buf_.size());
    }

    // Columns without levels: every value is there.
    void finish_levels(int32_t n) {
        if (node_.rep == 0) out.rep.insert(out.rep.end(), n, 0);
        if (node_.def == 0) out.def.insert(out.def.end(), n, 0);
        page_values_ = n;
    }

    void read_dictionary(const PageHeader& h, const uint8_t* page) {
        if (h.encoding != kPlain && h.encoding != kPlainDictionary)
            unsupported("a dictionary page encoded as " + encoding_name(h.encoding));
        if (have_dict_) fail("a second dictionary page");
        if (h.num_values > limits_.max_chunk_values) fail("a dictionary over the value limit");
        decompress_page(page, h.compressed, h.uncompressed);
        decode_plain(node_.physical, leaf_.type, buf_.data(), buf_.data() + buf_.size(), h.num_values, dict_,
                     what_);
        have_dict_ = true;
    }

    // How many of this page's entries hold a value: those at the leaf's full definition level.
    size_t present() const {
        size_t n = 0;
        for (size_t i = out.def.size() - page_values_; i < out.def.size(); ++i) n += out.def[i] == node_.def;
        return n;
    }

    void read_values(int encoding, const uint8_t* p, const uint8_t* end) {
        const size_t count = present();
        switch (encoding) {
            case kPlain:
                return decode_plain(node_.physical, leaf_.type, p, end, count, out.values, what_);
            case kPlainDictionary:
            case kRleDictionary:
                return read_dictionary_indices(p, end, count);
            case kRle:
                return read_rle_booleans(p, end, count);
            case kDeltaBinaryPacked:
            case kDeltaLengthByteArray:
            case kDeltaByteArray:
            case kByteStreamSplit:
                plain_.clear();
                decode_to_plain(encoding, node_.physical, p, end, count, plain_, what_);
                return decode_plain(node_.physical, leaf_.type, plain_.data(), plain_.data() + plain_.size(),
                                    count, out.values, what_);
            default:
                unsupported("encoding " + encoding_name(encoding));
        }
    }

    // A one-byte bit width, then the indices in the hybrid encoding.
    void read_dictionary_indices(const uint8_t* p, const uint8_t* end, size_t count) {
        if (!have_dict_) fail("a dictionary-encoded page without a dictionary page");
        if (count == 0) return;
        if (p >= end) fail("dictionary indices: truncated");
        int width = *p++;
        idx_.clear();
        decode_hybrid(p, end, width, count, idx_, what("dictionary indices"));
        for (uint32_t i : idx_) {
            if (i >= dict_.size()) fail("a dictionary index out of range");
            out.values.push_back(dict_[i]);
        }
    }

    // RLE values exist only for booleans: a 4-byte length, then the hybrid at width 1.
    void read_rle_booleans(const uint8_t* p, const uint8_t* end, size_t count) {
        if (node_.physical != kBoolean)
            unsupported("RLE encoding of " + std::string(physical_name(node_.physical)));
        if (end - p < 4) fail("RLE booleans: truncated");
        uint32_t len = le32(p);
        if (len > static_cast<size_t>(end - p - 4)) fail("RLE booleans: longer than the page");
        idx_.clear();
        decode_hybrid(p + 4, p + 4 + len, 1, count, idx_, what("RLE booleans"));
        for (uint32_t v : idx_) out.values.emplace_back(v != 0);
    }

    const Leaf& leaf_;
    const Node& node_;
    const ChunkMeta& chunk_;
    const Limits& limits_;
    const std::string& what_;
    std::vector<uint8_t> buf_;    // the current page, decompressed
    std::vector<uint8_t> plain_;  // its values re-encoded as PLAIN (delta.h)
    std::vector<Row> dict_;
    std::vector<uint32_t> idx_;
    bool have_dict_ = false;
    int32_t page_values_ = 0;  // entries in the current data page
};

}  // namespace

ChunkValues decode_chunk(const Node& node, const Leaf& leaf, const ChunkMeta& chunk, const Limits& limits,
                         const std::string& what, const uint8_t* data, size_t size) {
    ChunkDecoder d(node, leaf, chunk, limits, what);
    d.decode(data, size);
    return std::move(d.out);
}

}  // namespace stride::parquet
