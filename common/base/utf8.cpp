// UTF-8: encoding, lenient decoding, and strict validation by the table of well-formed byte sequences
// (Unicode 15, table 3-7).
#include "common/base/utf8.h"

namespace stride {

namespace {

// Length of the valid prefix of the sequence starting at s[i]: the full length when the sequence is
// complete and well formed, else the number of bytes forming a maximal invalid subpart (>= 1).
// `complete` tells which of the two it is.
size_t utf8_sequence(std::string_view s, size_t i, bool& complete) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    complete = true;
    if (b0 < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte (rules out overlongs, surrogates)
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        complete = false;
        return 1;
    }
    size_t n = 1;
    for (; n < need; ++n) {
        if (i + n >= s.size()) break;
        const auto b = static_cast<unsigned char>(s[i + n]);
        if (n == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
    }
    complete = n == need;
    return n;
}

}  // namespace

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

uint32_t utf8_decode_at(std::string_view s, size_t i, size_t* len) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    *len = n;
    return cp;
}

size_t utf8_find_invalid(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        bool complete;
        const size_t n = utf8_sequence(s, i, complete);
        if (!complete) return i;
        i += n;
    }
    return std::string_view::npos;
}

std::string utf8_lossy(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (size_t i = 0; i < bytes.size();) {
        bool complete;
        const size_t n = utf8_sequence(bytes, i, complete);
        if (complete)
            out.append(bytes.substr(i, n));
        else
            out += "\xEF\xBF\xBD";  // U+FFFD
        i += n;
    }
    return out;
}

}  // namespace stride
