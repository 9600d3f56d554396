#include "reward/math/math_answer.h"

#include <cctype>
#include <cstring>

#include "reward/math/rational.h"

namespace stride {

namespace {

bool is_letter(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
}

// Index just past the brace group opening at `open` (s[open] == '{'), or npos when unbalanced.
// "\{" and "\}" are literal braces in LaTeX and do not nest.
size_t match_brace(const std::string& s, size_t open) {
    int depth = 0;
    for (size_t i = open; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '{' || s[i + 1] == '}')) {
            ++i;
            continue;
        }
        if (s[i] == '{') ++depth;
        if (s[i] == '}' && --depth == 0) return i + 1;
    }
    return std::string::npos;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
        s.replace(pos, from.size(), to);
}

// Removes "\name" where it is the whole command (so \left goes but \leftarrow stays).
void remove_command(std::string& s, const std::string& name) {
    std::string cmd = "\\" + name;
    for (size_t pos = 0; (pos = s.find(cmd, pos)) != std::string::npos;) {
        size_t end = pos + cmd.size();
        if (end < s.size() && is_letter(s[end])) {
            pos = end;
            continue;
        }
        s.erase(pos, cmd.size());
    }
}

// \name{X} -> X for text-like wrappers.
void unwrap_command(std::string& s, const std::string& name) {
    std::string cmd = "\\" + name + "{";
    for (size_t pos = 0; (pos = s.find(cmd, pos)) != std::string::npos;) {
        size_t open = pos + cmd.size() - 1;
        size_t close = match_brace(s, open);
        if (close == std::string::npos) return;
        s = s.substr(0, pos) + s.substr(open + 1, close - open - 2) + s.substr(close);
    }
}

// \frac12 -> \frac{1}{2}, \frac1{2} -> \frac{1}{2}; \sqrt2 -> \sqrt{2}.
void brace_shorthand_args(std::string& s, const std::string& cmd, int nargs) {
    std::string name = "\\" + cmd;
    for (size_t pos = 0; (pos = s.find(name, pos)) != std::string::npos;) {
        size_t i = pos + name.size();
        if (i < s.size() && is_letter(s[i])) {
            pos = i;
            continue;
        }
        std::string out = name;
        for (int a = 0; a < nargs && i < s.size(); ++a) {
            if (s[i] == '{') {
                size_t close = match_brace(s, i);
                if (close == std::string::npos) return;
                out += s.substr(i, close - i);
                i = close;
            } else {
                out += std::string("{") + s[i] + "}";
                ++i;
            }
        }
        s = s.substr(0, pos) + out + s.substr(i);
        pos += out.size();
    }
}

// Index of the last `c` before `end`, or npos. (std::string::rfind of a multi-character string calls
// memcmp at every position: too slow for the verifier's hot path.)
size_t last_of(const std::string& s, char c, size_t end) {
    const void* p = end == 0 ? nullptr : memrchr(s.data(), c, end);
    return p ? static_cast<const char*>(p) - s.data() : std::string::npos;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Letter runs of `min_len` or more that are not LaTeX: words of prose. Command names (\frac) and
// environment names (\begin{pmatrix}) do not count.
int prose_words(const std::string& s, size_t min_len) {
    int words = 0;
    for (size_t i = 0; i < s.size();) {
        if (!is_letter(s[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < s.size() && is_letter(s[j])) ++j;
        bool command = i > 0 && s[i - 1] == '\\';
        bool environment = i > 0 && s[i - 1] == '{' &&
                           ((i >= 7 && s.compare(i - 7, 6, "\\begin") == 0) ||
                            (i >= 5 && s.compare(i - 5, 4, "\\end") == 0));
        if (j - i >= min_len && !command && !environment) ++words;
        i = j;
    }
    return words;
}

std::string trimmed(const std::string& s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

bool has_box_command(const std::string& s) {
    return s.find("\\boxed") != std::string::npos || s.find("\\fbox") != std::string::npos;
}

}  // namespace

std::optional<std::string> extract_last_boxed(const std::string& text) {
    size_t best = std::string::npos, cmd_len = 0;
    for (size_t p = last_of(text, '\\', text.size()); p != std::string::npos; p = last_of(text, '\\', p)) {
        if (text.compare(p + 1, 5, "boxed") == 0) {
            best = p, cmd_len = 6;
            break;
        }
        if (text.compare(p + 1, 4, "fbox") == 0) {
            best = p, cmd_len = 5;
            break;
        }
    }
    if (best == std::string::npos) return std::nullopt;
    size_t i = best + cmd_len;
    if (i < text.size() && text[i] == '{') {
        size_t close = match_brace(text, i);
        if (close == std::string::npos) return std::nullopt;  // truncated mid-answer
        return text.substr(i + 1, close - i - 2);
    }
    if (i < text.size() && text[i] == ' ') {  // "\boxed 5": up to the next space or $
        size_t start = i + 1;
        size_t end = text.find_first_of(" $\n", start);
        std::string v = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!v.empty()) return v;
    }
    return std::nullopt;
}

std::optional<std::string> extract_gsm8k_answer(const std::string& text) {
    size_t p = last_of(text, '#', text.size());
    while (p != std::string::npos && text.compare(p, 4, "####") != 0) p = last_of(text, '#', p);
    if (p == std::string::npos) return std::nullopt;
    size_t i = p + 4;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '$')) ++i;
    std::string out;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || (c == '-' && out.empty())) {
            out += c;
        } else if (c != ',') {
            break;
        }
    }
    while (!out.empty() && out.back() == '.') out.pop_back();
    bool has_digit = false;
    for (char c : out) has_digit |= std::isdigit(static_cast<unsigned char>(c)) != 0;
    if (!has_digit) return std::nullopt;
    return out;
}

namespace {

// The last complete math span and the index just past its closing delimiter.
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

// The last number and the index where it starts.
std::optional<std::string> last_number(const std::string& text, size_t* begin_pos) {
    size_t end = text.size();
    while (end > 0 && !is_digit(text[end - 1])) --end;
    if (end == 0) return std::nullopt;
    size_t begin = end;
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
    // A minus sign, unless it is a range or a subtraction ("5-7").
    if (begin > 0 && text[begin - 1] == '-' &&
        (begin == 1 || !std::isalnum(static_cast<unsigned char>(text[begin - 2]))))
        --begin;
    *begin_pos = begin;
    return text.substr(begin, end - begin);
}

// Whichever comes later in the text: the last math span or the last number ("we have $x = 2$, so the
// total is 42" answers 42).
std::optional<ExtractedAnswer> last_span_or_number(const std::string& text) {
    size_t span_end = 0, number_begin = 0;
    auto span = last_math_span(text, &span_end);
    auto number = last_number(text, &number_begin);
    if (number && (!span || number_begin >= span_end)) return ExtractedAnswer{*number, "last number"};
    if (span) return ExtractedAnswer{*span, "math span"};
    return std::nullopt;
}

}  // namespace

std::optional<std::string> extract_last_math_span(const std::string& text) {
    size_t end;
    return last_math_span(text, &end);
}

std::optional<std::string> extract_last_number(const std::string& text) {
    size_t begin;
    return last_number(text, &begin);
}

std::optional<ExtractedAnswer> extract_response_answer(const std::string& response) {
    if (has_box_command(response)) {
        auto boxed = extract_last_boxed(response);
        if (!boxed || trimmed(*boxed).empty()) return std::nullopt;  // cut off inside the box, or empty
        return ExtractedAnswer{*boxed, "boxed"};
    }
    if (auto gsm = extract_gsm8k_answer(response)) return ExtractedAnswer{*gsm, "####"};
    std::string whole = trimmed(response);
    if (!whole.empty() && whole.size() <= 80 && whole.find('\n') == std::string::npos &&
        prose_words(whole, 2) == 0)
        return ExtractedAnswer{whole, "whole text"};
    return last_span_or_number(response);
}

std::optional<ExtractedAnswer> extract_label_answer(const std::string& label) {
    if (auto boxed = extract_last_boxed(label)) return ExtractedAnswer{*boxed, "boxed"};
    if (auto gsm = extract_gsm8k_answer(label)) return ExtractedAnswer{*gsm, "####"};
    std::string whole = trimmed(label);
    if (whole.empty()) return std::nullopt;
    if (prose_words(whole, 3) <= 1) return ExtractedAnswer{whole, "whole text"};  // "\text{Monday}"
    if (auto found = last_span_or_number(label)) return found;
    return ExtractedAnswer{whole, "whole text"};
}

std::string normalize_math_answer(const std::string& answer) {
    std::string s = answer;
    if (auto boxed = extract_last_boxed(s)) s = *boxed;
    for (const char* cmd : {"text", "textbf", "mathrm", "mathbf", "mbox"}) unwrap_command(s, cmd);
    std::string out;
    for (char c : s)
        if (!std::isspace(static_cast<unsigned char>(c)) && c != '$') out += c;
    s = out;
    remove_command(s, "left");
    remove_command(s, "right");
    for (const char* cmd : {"!", ",", ";", ":"}) replace_all(s, std::string("\\") + cmd, "");
    remove_command(s, "quad");
    remove_command(s, "displaystyle");
    replace_all(s, "\\dfrac", "\\frac");
    replace_all(s, "\\tfrac", "\\frac");
    for (const char* deg : {"^{\\circ}", "^\\circ", "\\%", "%"}) replace_all(s, deg, "");
    brace_shorthand_args(s, "frac", 2);
    brace_shorthand_args(s, "sqrt", 1);
    while (!s.empty() && s.back() == '.') s.pop_back();
    // "x=5" -> "5" (a single variable name, and only one '=').
    if (s.size() > 2 && is_letter(s[0]) && s[1] == '=' && s.find('=', 2) == std::string::npos)
        s = s.substr(2);
    return s;
}

}  // namespace stride
