#include "common/base/crc32c.h"

#include <cstring>

#if defined(__SSE4_2__)
#include <nmmintrin.h>
#endif

namespace stride {

namespace {

// Software fallback (reflected polynomial 0x82F63B78), one table.
struct Table {
    uint32_t t[256];
    Table() {
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            t[i] = c;
        }
    }
};

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
#if defined(__SSE4_2__)
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        c = _mm_crc32_u64(c, v);
        p += 8;
        n -= 8;
    }
    crc = static_cast<uint32_t>(c);
    while (n--) crc = _mm_crc32_u8(crc, *p++);
#else
    static const Table table;
    while (n--) crc = table.t[(crc ^ *p++) & 0xff] ^ (crc >> 8);
#endif
    return ~crc;
}

uint32_t crc32c_copy(void* dst, const void* src, size_t n, uint32_t crc) {
#if defined(__SSE4_2__)
    const unsigned char* p = static_cast<const unsigned char*>(src);
    unsigned char* q = static_cast<unsigned char*>(dst);
    uint64_t c = static_cast<uint32_t>(~crc);
    // Three independent CRC streams would hide the crc32 instruction's latency; one stream already
    // runs at about 8 bytes a cycle's latency budget, which is memory speed for large chunks.
    while (n >= 32) {
        uint64_t v0, v1, v2, v3;
        std::memcpy(&v0, p, 8);
        std::memcpy(&v1, p + 8, 8);
        std::memcpy(&v2, p + 16, 8);
        std::memcpy(&v3, p + 24, 8);
        std::memcpy(q, p, 32);
        c = _mm_crc32_u64(c, v0);
        c = _mm_crc32_u64(c, v1);
        c = _mm_crc32_u64(c, v2);
        c = _mm_crc32_u64(c, v3);
        p += 32;
        q += 32;
        n -= 32;
    }
    uint32_t c32 = static_cast<uint32_t>(c);
    while (n--) {
        *q++ = *p;
        c32 = _mm_crc32_u8(c32, *p++);
    }
    return ~c32;
#else
    std::memcpy(dst, src, n);
    return crc32c(dst, n, crc);
#endif
}

}  // namespace stride
