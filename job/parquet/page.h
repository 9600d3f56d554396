// Pages: the Thrift page header in front of each page, and decompressing a page's bytes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "job/parquet/format.h"
#include "job/parquet/thrift_compact.h"

namespace stride::parquet {

// A PageHeader with whichever of its DataPageHeader, DataPageHeaderV2 or DictionaryPageHeader is set,
// flattened: the reader needs the same few fields from each.
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

PageHeader parse_page_header(ThriftReader& r);

// src[0, n) decompressed by `codec` into exactly `expected` bytes of `out`. A page that would grow
// past max_page_bytes is refused before allocating. Errors start with `what`.
void decompress(int codec, const uint8_t* src, size_t n, size_t expected, int64_t max_page_bytes,
                std::vector<uint8_t>& out, const std::string& what);

}  // namespace stride::parquet
