// Page headers (parquet.thrift: PageHeader and its per-type headers) and the codecs we support:
// UNCOMPRESSED, SNAPPY, GZIP (zlib), ZSTD, BROTLI, LZ4_RAW and LZ4 (Hadoop's framing, or a raw block
// as older writers made it). Each decompressor must produce exactly the size the header states, since
// the levels and values are then decoded against that size.
#include "job/parquet/page.h"

#include <brotli/decode.h>
#include <lz4.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include "common/base/error.h"

namespace stride::parquet {

namespace {

// One field of DataPageHeader (5), DictionaryPageHeader (7) or DataPageHeaderV2 (8); `sub` says which.
void parse_sub_field(ThriftReader& r, int16_t sub, const ThriftReader::Field& g, PageHeader& h) {
    if (g.id == 1) {
        h.num_values = r.read_i32(g);
    } else if (sub == 5 && g.id == 2) {
        h.encoding = r.read_i32(g);
    } else if (sub == 5 && g.id == 3) {
        h.def_encoding = r.read_i32(g);
    } else if (sub == 5 && g.id == 4) {
        h.rep_encoding = r.read_i32(g);
    } else if (sub == 7 && g.id == 2) {
        h.encoding = r.read_i32(g);
    } else if (sub == 8 && g.id == 4) {
        h.encoding = r.read_i32(g);
    } else if (sub == 8 && g.id == 5) {
        h.def_bytes = r.read_i32(g);
    } else if (sub == 8 && g.id == 6) {
        h.rep_bytes = r.read_i32(g);
    } else if (sub == 8 && g.id == 7) {
        h.v2_compressed = r.read_bool(g);
    } else {
        r.skip(g.type);
    }
}

void parse_sub_header(ThriftReader& r, int16_t sub, PageHeader& h) {
    h.has_sub = true;
    int16_t last = 0;
    ThriftReader::Field g;
    while (r.next_field(last, g)) parse_sub_field(r, sub, g, h);
}

[[noreturn]] void fail(const std::string& what, const std::string& why) {
    throw Error(what + ": " + why);
}

void decompress_snappy(const uint8_t* src, size_t n, size_t expected, uint8_t* out, const std::string& what) {
    size_t len = 0;
    if (!snappy::GetUncompressedLength(reinterpret_cast<const char*>(src), n, &len) || len != expected)
        fail(what, "a Snappy page that does not decompress to its stated size");
    if (!snappy::RawUncompress(reinterpret_cast<const char*>(src), n, reinterpret_cast<char*>(out)))
        fail(what, "a corrupt Snappy page");
}

void decompress_brotli(const uint8_t* src, size_t n, size_t expected, uint8_t* out, const std::string& what) {
    size_t len = expected;
    if (BrotliDecoderDecompress(n, src, &len, out) != BROTLI_DECODER_RESULT_SUCCESS || len != expected)
        fail(what, "a Brotli page that does not decompress to its stated size");
}

// One raw LZ4 block of exactly `expected` bytes; false when it is not one.
bool lz4_block(const uint8_t* src, size_t n, size_t expected, uint8_t* out) {
    if (n > static_cast<size_t>(LZ4_MAX_INPUT_SIZE) || expected > static_cast<size_t>(LZ4_MAX_INPUT_SIZE))
        return false;
    const int got = LZ4_decompress_safe(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(out),
                                        static_cast<int>(n), static_cast<int>(expected));
    return got >= 0 && static_cast<size_t>(got) == expected;
}

uint32_t be32(const uint8_t* p) {
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Hadoop's LZ4 framing: blocks of [u32 BE decompressed size][u32 BE compressed size][raw block].
bool lz4_hadoop(const uint8_t* src, size_t n, size_t expected, uint8_t* out) {
    size_t in = 0, done = 0;
    while (in < n) {
        if (n - in < 8) return false;
        const size_t raw = be32(src + in), packed = be32(src + in + 4);
        in += 8;
        if (packed > n - in || raw > expected - done || !lz4_block(src + in, packed, raw, out + done))
            return false;
        in += packed;
        done += raw;
    }
    return done == expected;
}

void decompress_lz4(int codec, const uint8_t* src, size_t n, size_t expected, uint8_t* out,
                    const std::string& what) {
    const bool ok = codec == kLz4Raw ? lz4_block(src, n, expected, out)
                                     : lz4_hadoop(src, n, expected, out) || lz4_block(src, n, expected, out);
    if (!ok)
        fail(what,
             std::string("a ") + codec_name(codec) + " page that does not decompress to its stated size");
}

void decompress_zstd(const uint8_t* src, size_t n, size_t expected, uint8_t* out, const std::string& what) {
    size_t got = ZSTD_decompress(out, expected, src, n);
    if (ZSTD_isError(got)) fail(what, std::string("a corrupt Zstd page (") + ZSTD_getErrorName(got) + ")");
    if (got != expected) fail(what, "a Zstd page that does not decompress to its stated size");
}

// inflate with automatic gzip/zlib header detection (15 + 32), across concatenated gzip members.
void decompress_gzip(const uint8_t* src, size_t n, size_t expected, uint8_t* out, const std::string& what) {
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 32) != Z_OK) fail(what, "zlib initialisation failed");
    zs.next_in = const_cast<Bytef*>(src);
    zs.avail_in = static_cast<uInt>(n);
    zs.next_out = out;
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
        fail(what, "a Gzip page that does not decompress to its stated size");
}

}  // namespace

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
            case 8:
                r.expect_struct(f);
                parse_sub_header(r, f.id, h);
                break;
            default:
                r.skip(f.type);
        }
    }
    return h;
}

void decompress(int codec, const uint8_t* src, size_t n, size_t expected, int64_t max_page_bytes,
                std::vector<uint8_t>& out, const std::string& what) {
    if (static_cast<int64_t>(expected) > max_page_bytes)
        fail(what, "a page of " + std::to_string(static_cast<int64_t>(expected)) +
                       " bytes is over the limit of " + std::to_string(max_page_bytes));
    out.resize(expected);
    switch (codec) {
        case kUncompressed:
            if (n != expected) fail(what, "an uncompressed page whose two sizes differ");
            if (n) std::memcpy(out.data(), src, n);
            return;
        case kSnappy:
            return decompress_snappy(src, n, expected, out.data(), what);
        case kZstd:
            return decompress_zstd(src, n, expected, out.data(), what);
        case kGzip:
            return decompress_gzip(src, n, expected, out.data(), what);
        case kBrotli:
            return decompress_brotli(src, n, expected, out.data(), what);
        case kLz4:
        case kLz4Raw:
            return decompress_lz4(codec, src, n, expected, out.data(), what);
        default:
            throw Error(what + ": " + std::string("compression ") + codec_name(codec) + " is not supported");
    }
}

}  // namespace stride::parquet
