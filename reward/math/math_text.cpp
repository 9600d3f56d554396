#include "reward/math/math_text.h"

#include <cctype>
#include <cstring>
#include <string_view>

namespace stride::math_text {

bool is_letter(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

size_t match_brace(const std::string& s, size_t open) {
    int depth = 0;
    for (size_t i = open; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            ++i;
            continue;
        }
        if (s[i] == '{') ++depth;
        if (s[i] == '}' && --depth == 0) return i + 1;
    }
    return std::string::npos;
}

// (std::string::rfind of a multi-character string calls
// memcmp at every position: too slow for the verifier's hot path.)
size_t box_command_length(const std::string& s, size_t p) {
    if (p >= s.size() || s[p] != '\\') return 0;
    if (s.compare(p + 1, 5, "boxed") == 0) return 6;
    if (s.compare(p + 1, 4, "fbox") == 0) return 5;
    return 0;
}

bool has_box_command(const std::string& s) {
    return s.find("\\boxed") != std::string::npos || s.find("\\fbox") != std::string::npos;
}

size_t last_of(const std::string& s, char c, size_t end) {
    const void* p = end == 0 ? nullptr : memrchr(s.data(), c, end);
    return p ? static_cast<const char*>(p) - s.data() : std::string::npos;
}

std::string trimmed(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

std::optional<std::string> last_math_span(const std::string& text, size_t* end_pos) {
    const size_t n = text.size();
    auto at = [&](size_t i, char a, char b) { return i + 1 < n && text[i] == a && text[i + 1] == b; };
    size_t best_begin = 0, best_end = 0;
    bool found = false;
    for (size_t i = 0; i < n;) {
        char close = 0;  // '$' for $...$, 'D' for $$...$$, ']' for \[...\], ')' for \(...\)
        if (text[i] == '\\' && i + 1 < n) {
            char c = text[i + 1];
            if (c == '[' || c == '(') {
                close = c == '[' ? ']' : ')';
            } else {
                i += 2;  // "\$" is a dollar sign; other escapes are skipped whole
                continue;
            }
        } else if (text[i] == '$') {
            close = at(i, '$', '$') ? 'D' : '$';
        } else {
            ++i;
            continue;
        }
        const size_t open_len = close == '$' ? 1 : 2, start = i + open_len;
        size_t end = start;
        for (; end < n; ++end) {
            if (close == '$' || close == 'D') {
                if (text[end] == '\\') {
                    ++end;  // \$ inside math
                    continue;
                }
                if (text[end] == '$' && (close == '$' || at(end, '$', '$'))) break;
            } else if (at(end, '\\', close)) {
                break;
            }
        }
        if (end >= n) break;  // unclosed: no later span can be complete either
        size_t b = start, e = end;
        while (b < e && std::isspace(static_cast<unsigned char>(text[b]))) ++b;
        while (e > b && std::isspace(static_cast<unsigned char>(text[e - 1]))) --e;
        i = end + (close == '$' ? 1 : 2);
        if (e > b) best_begin = b, best_end = e, found = true, *end_pos = i;
    }
    if (!found) return std::nullopt;
    return text.substr(best_begin, best_end - best_begin);
}

std::optional<std::string> last_number(const std::string& text, size_t* begin_pos) {
    size_t end = text.size(), begin = end;
    for (;;) {  // the last digit run that is not part of a word ("AZYUK2A" holds no number)
        while (end > 0 && !is_digit(text[end - 1])) --end;
        if (end == 0) return std::nullopt;
        begin = end;
        while (begin > 0 && is_digit(text[begin - 1])) --begin;
        if (begin == 0 || !is_letter(text[begin - 1])) break;
        end = begin;
    }
    begin = end;
    // Digits with the separators a number can hold: 1,234.5 and 3/4 (a separator needs digits after it).
    while (begin > 0) {
        char c = text[begin - 1];
        if (is_digit(c)) {
            --begin;
        } else if ((c == ',' || c == '.' || c == '/') && begin >= 2 && is_digit(text[begin - 2])) {
            --begin;
        } else {
            break;
        }
    }
    // A mixed number: "4 4/9" (a whole number, one space, a fraction).
    const std::string_view number(text.data() + begin, end - begin);
    if (number.find('/') != std::string_view::npos && begin >= 2 && text[begin - 1] == ' ' &&
        is_digit(text[begin - 2])) {
        size_t whole = begin - 1;
        while (whole > 0 && is_digit(text[whole - 1])) --whole;
        const char before = whole == 0 ? ' ' : text[whole - 1];
        if (!std::isalnum(static_cast<unsigned char>(before)) && before != '/' && before != '.' &&
            before != ',')
            begin = whole;
    }
    // A minus sign, unless it is a range or a subtraction ("5-7").
    if (begin > 0 && text[begin - 1] == '-' &&
        (begin == 1 || !std::isalnum(static_cast<unsigned char>(text[begin - 2]))))
        --begin;
    *begin_pos = begin;
    return text.substr(begin, end - begin);
}

}  // namespace stride::math_text
