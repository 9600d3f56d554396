#include "reward/math/math_final_answer.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>
#include <vector>

#include "reward/math/math_text.h"

namespace stride {

using math_text::box_command_length;
using math_text::is_digit;
using math_text::is_letter;
using math_text::last_math_span;
using math_text::last_number;
using math_text::last_of;
using math_text::match_brace;
using math_text::trimmed;

namespace {

// ---- several \boxed{} answers -------------------------------------------------------------------

struct Box {
    size_t begin, open, close;  // "\boxed" at begin, '{' at open, close just past the '}'
};

// Every complete \boxed{...} / \fbox{...} not inside another, in order.
std::vector<Box> outer_boxes(const std::string& text) {
    std::vector<Box> out;
    for (size_t p = text.find('\\'); p != std::string::npos; p = text.find('\\', p + 1)) {
        const size_t len = box_command_length(text, p);
        if (len == 0 || p + len >= text.size() || text[p + len] != '{' ||
            (!out.empty() && p < out.back().close))
            continue;
        size_t close = match_brace(text, p + len);
        if (close == std::string::npos) break;
        out.push_back({p, p + len, close});
    }
    return out;
}

// What a separator between two boxes holds, LaTeX spacing, delimiters and \text{} braces removed:
// its words, how many of them join answers (",", ";", "and", "or"), and whether it crosses a
// math delimiter ($, \( \), \[ \]).
struct Separator {
    int commas = 0, conjunctions = 0, words = 0;  // "," or ";"; "and" or "or"; other words
    bool delimiter = false;
};

Separator read_separator(std::string_view s) {
    Separator sep;
    for (size_t i = 0; i < s.size();) {
        const char c = s[i];
        if (c == '$' || (c == '\\' && i + 1 < s.size() && std::strchr("()[]", s[i + 1]))) {
            sep.delimiter = true;
            i += c == '$' ? 1 : 2;
        } else if (c == '\\') {  // \quad, \text, \, ...: spacing and wrappers
            i += 2;
            while (i < s.size() && is_letter(s[i])) ++i;
        } else if (c == ',' || c == ';') {
            ++sep.commas, ++i;
        } else if (std::isalnum(static_cast<unsigned char>(c))) {
            size_t j = i;
            while (j < s.size() && std::isalnum(static_cast<unsigned char>(s[j]))) ++j;
            const std::string_view w = s.substr(i, j - i);
            ++(w == "and" || w == "or" ? sep.conjunctions : sep.words);
            i = j;
        } else {
            ++i;
        }
    }
    return sep;
}

// Boxes side by side ("\boxed{1}\boxed{2}"), between commas ("\boxed{1}, \boxed{2}") or joined by
// "and"/"or" and a few words ("\boxed{(3,3)} for part (a) and \boxed{(1,1)}") are one answer;
// "\boxed{3}, finally \boxed{5}" and "$$\boxed{20}$$ \boxed{143}" are a correction: the last counts.
bool joins_answers(std::string_view between) {
    constexpr size_t kMaxSeparator = 120;
    if (between.size() > kMaxSeparator) return false;
    const Separator sep = read_separator(between);
    if (sep.conjunctions > 0) return sep.words <= 4;
    return sep.words == 0 && (sep.commas > 0 || !sep.delimiter);
}

}  // namespace

std::optional<std::string> last_box_group(const std::string& text, size_t* end) {
    const std::vector<Box> boxes = outer_boxes(text);
    if (boxes.empty()) return std::nullopt;
    size_t first = boxes.size() - 1;
    while (first > 0 && joins_answers(std::string_view(text).substr(
                            boxes[first - 1].close, boxes[first].begin - boxes[first - 1].close)))
        --first;
    std::string out;
    for (size_t i = first; i < boxes.size(); ++i) {
        std::string item = trimmed(text.substr(boxes[i].open + 1, boxes[i].close - boxes[i].open - 2));
        while (!item.empty() && (item.back() == '.' || item.back() == ',')) item.pop_back();
        if (item.empty()) continue;
        out += (out.empty() ? "" : ", ") + item;
    }
    *end = boxes.back().close;
    if (out.empty()) return std::nullopt;
    return out;
}

namespace {

// ---- "The final answer is ..." ---------------------------------------------------------------

// Index of the last "answer is" (any case) at or after `from`, or npos.
size_t last_answer_is(const std::string& text, size_t from) {
    constexpr std::string_view kPhrase = "nswer is";
    for (size_t p = last_of(text, 'n', text.size()); p != std::string::npos && p > from;
         p = last_of(text, 'n', p)) {
        if (text.compare(p, kPhrase.size(), kPhrase) == 0 && (text[p - 1] == 'a' || text[p - 1] == 'A'))
            return p - 1;
    }
    return std::string::npos;
}

// The statement of an answer ends at a line break, a sentence's period, or a comma that starts a
// clause ("6, since 2 + 4 = 6"; not the commas of "12,000" or "1, 2").
bool ends_statement(const std::string& t, size_t i) {
    auto followed_by = [&](char c, bool letter) {
        return t[i] == c && (i + 1 == t.size() || t[i + 1] == ' ' || t[i + 1] == '\n') &&
               (!letter || (i + 2 < t.size() && is_letter(t[i + 2])));
    };
    return t[i] == '\n' || followed_by('.', false) || followed_by(',', true);
}

// Where the first digit not glued to a word is, or npos.
size_t first_number_at(const std::string& text) {
    for (size_t i = 0; i < text.size(); ++i)
        if (is_digit(text[i]) && (i == 0 || !is_letter(text[i - 1]))) return i;
    return std::string::npos;
}

}  // namespace

std::optional<ExtractedAnswer> stated_final_answer(const std::string& text, size_t from) {
    const size_t at = last_answer_is(text, from);
    if (at == std::string::npos) return std::nullopt;
    size_t b = at + 9;
    while (b < text.size() && (text[b] == ' ' || text[b] == ':')) ++b;
    // The answer itself comes next, not a word ("the answer is not 5, it is 7" states none).
    if (b == text.size() || !std::strchr("0123456789-+.$\\([{", text[b])) return std::nullopt;
    size_t e = b;
    while (e < text.size() && !ends_statement(text, e)) ++e;
    const std::string sentence = text.substr(b, e - b);
    size_t span_end, dollars = std::count(sentence.begin(), sentence.end(), '$');
    if (auto span = last_math_span(sentence, &span_end)) {
        if (dollars == 2 || (dollars == 0 && sentence.find("\\(") == sentence.rfind("\\(")))
            return ExtractedAnswer{*span, "answer is"};
        return std::nullopt;
    }
    size_t begin;
    if (dollars != 0) return std::nullopt;
    auto number = last_number(sentence, &begin);
    if (!number) return std::nullopt;
    // Several numbers: the sentence is the answer ("5 or 6" is a list, not a hedge that scores).
    if (first_number_at(sentence) < begin) return ExtractedAnswer{trimmed(sentence), "answer is"};
    return ExtractedAnswer{*number, "answer is"};
}

}  // namespace stride
