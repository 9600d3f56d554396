// UTF-8 helpers of the Jinja subset: Python strings are sequences of code points, so lengths,
// indexes, slices and whitespace stripping work on code points, not bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stride::jinja {

inline void append_utf8(std::string& out, uint32_t cp) {
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

// Byte offsets where each code point starts (lenient: a stray continuation byte is its own unit).
inline std::vector<size_t> char_starts(std::string_view s) {
    std::vector<size_t> out;
    for (size_t i = 0; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 || out.empty() || i == 0) out.push_back(i);
    return out;
}

inline uint32_t decode_at(std::string_view s, size_t i, size_t* len) {
    unsigned char c = s[i];
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + n > s.size()) n = 1;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    *len = n;
    return cp;
}

// Python's str.isspace() characters.
inline bool is_py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

inline bool strip_member(uint32_t c, const std::u32string* chars) {
    return chars ? chars->find(c) != std::u32string::npos : is_py_space(c);
}

inline std::u32string to_u32(std::string_view s) {
    std::u32string out;
    for (size_t i = 0; i < s.size();) {
        size_t len;
        out += decode_at(s, i, &len);
        i += len;
    }
    return out;
}

// Python's str.lstrip/rstrip: whitespace, or the code points of `chars` when given.
inline std::string lstrip_ws(std::string_view s, const std::u32string* chars = nullptr) {
    size_t i = 0;
    while (i < s.size()) {
        size_t len;
        uint32_t c = decode_at(s, i, &len);
        if (!strip_member(c, chars)) break;
        i += len;
    }
    return std::string(s.substr(i));
}

inline std::string rstrip_ws(std::string_view s, const std::u32string* chars = nullptr) {
    size_t end = 0;  // end of the last code point that is kept
    for (size_t i = 0; i < s.size();) {
        size_t len;
        uint32_t c = decode_at(s, i, &len);
        i += len;
        if (!strip_member(c, chars)) end = i;
    }
    return std::string(s.substr(0, end));
}

}  // namespace stride::jinja
