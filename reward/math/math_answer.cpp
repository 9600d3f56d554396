#include "reward/math/math_answer.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>
#include <vector>

#include "reward/math/math_final_answer.h"
#include "reward/math/math_text.h"
#include "reward/math/rational.h"

namespace stride {

using math_text::box_command_length;
using math_text::has_box_command;
using math_text::is_digit;
using math_text::is_letter;
using math_text::last_math_span;
using math_text::last_number;
using math_text::last_of;
using math_text::match_brace;
using math_text::trimmed;

namespace {

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
        const std::string_view word(s.data() + i, j - i);
        const bool connector = word == "and" || word == "or";  // "$1$ and $2$" lists answers
        if (j - i >= min_len && !command && !environment && !connector) ++words;
        i = j;
    }
    return words;
}

}  // namespace

std::optional<std::string> extract_last_boxed(const std::string& text) {
    size_t best = std::string::npos, cmd_len = 0;
    for (size_t p = last_of(text, '\\', text.size()); p != std::string::npos; p = last_of(text, '\\', p)) {
        if ((cmd_len = box_command_length(text, p)) > 0) {
            best = p;
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
        size_t box_end = 0;
        std::string group = last_box_group(response, &box_end).value_or(*boxed);
        if (auto stated = stated_final_answer(response, box_end)) return stated;  // stated after the box
        return ExtractedAnswer{group, "boxed"};
    }
    if (auto gsm = extract_gsm8k_answer(response)) return ExtractedAnswer{*gsm, "####"};
    std::string whole = trimmed(response);
    if (!whole.empty() && whole.size() <= 80 && whole.find('\n') == std::string::npos &&
        prose_words(whole, 2) == 0)
        return ExtractedAnswer{whole, "whole text"};
    if (auto stated = stated_final_answer(response, 0)) return stated;
    return last_span_or_number(response);
}

std::optional<ExtractedAnswer> extract_label_answer(const std::string& label) {
    size_t box_end;
    if (auto group = last_box_group(label, &box_end)) return ExtractedAnswer{*group, "boxed"};
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
