// Text helpers of the Jinja subset: Python strings are sequences of code points, so lengths, indexes,
// slices and whitespace stripping work on code points (decoded by common/base/utf8.h), not bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/utf8.h"

namespace stride::jinja {

// Byte offsets where each code point starts (lenient: a stray continuation byte is its own unit).
inline std::vector<size_t> char_starts(std::string_view s) {
    std::vector<size_t> out;
    for (size_t i = 0; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 || out.empty() || i == 0) out.push_back(i);
    return out;
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
        out += utf8_decode_at(s, i, &len);
        i += len;
    }
    return out;
}

// Python's str.lstrip/rstrip: whitespace, or the code points of `chars` when given.
inline std::string lstrip_ws(std::string_view s, const std::u32string* chars = nullptr) {
    size_t i = 0;
    while (i < s.size()) {
        size_t len;
        uint32_t c = utf8_decode_at(s, i, &len);
        if (!strip_member(c, chars)) break;
        i += len;
    }
    return std::string(s.substr(i));
}

inline std::string rstrip_ws(std::string_view s, const std::u32string* chars = nullptr) {
    size_t end = 0;  // end of the last code point that is kept
    for (size_t i = 0; i < s.size();) {
        size_t len;
        uint32_t c = utf8_decode_at(s, i, &len);
        i += len;
        if (!strip_member(c, chars)) end = i;
    }
    return std::string(s.substr(0, end));
}

// Python's str.lower/upper/title/capitalize on ASCII letters (non-ASCII bytes count as letters for
// title's word starts and are left as they are).
inline std::string lower_ascii(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}
inline std::string upper_ascii(std::string s) {
    for (char& c : s)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return s;
}
inline bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80;
}
inline std::string title_case(const std::string& s) {
    std::string out = s;
    bool start = true;
    for (char& c : out) {
        if (is_alpha(c) || (c >= '0' && c <= '9')) {
            if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
            if (!start && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            start = false;
        } else {
            start = true;
        }
    }
    return out;
}
inline std::string capitalize(const std::string& s) {
    std::string out = lower_ascii(s);
    if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = static_cast<char>(out[0] - 'a' + 'A');
    return out;
}

}  // namespace stride::jinja
