#include "reward/math_answer.h"

#include <cctype>
#include <vector>

#include "reward/rational.h"

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

// Splits "(a,b,c)" at top-level commas; empty when not a bracketed tuple/interval.
std::vector<std::string> tuple_items(const std::string& s) {
    if (s.size() < 2 || std::string("([").find(s.front()) == std::string::npos ||
        std::string(")]").find(s.back()) == std::string::npos)
        return {};
    std::vector<std::string> items;
    int depth = 0;
    std::string cur;
    for (size_t i = 1; i + 1 < s.size(); ++i) {
        char c = s[i];
        if (c == '(' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == ']' || c == '}') --depth;
        if (c == ',' && depth == 0) {
            items.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    items.push_back(cur);
    return items;
}

bool equal_normalised(const std::string& a, const std::string& b) {
    if (a == b) return true;
    auto ra = parse_rational(a), rb = parse_rational(b);
    if (ra && rb) return *ra == *rb;
    auto ta = tuple_items(a), tb = tuple_items(b);
    // Brackets must agree: (1,2) is not [1,2] (open vs closed interval).
    if (ta.size() < 2 || ta.size() != tb.size() || a.front() != b.front() || a.back() != b.back())
        return false;
    for (size_t i = 0; i < ta.size(); ++i)
        if (!equal_normalised(ta[i], tb[i])) return false;
    return true;
}

}  // namespace

std::optional<std::string> extract_last_boxed(const std::string& text) {
    size_t best = std::string::npos, cmd_len = 0;
    for (const char* cmd : {"\\boxed", "\\fbox"}) {
        size_t p = text.rfind(cmd);
        if (p != std::string::npos && (best == std::string::npos || p > best))
            best = p, cmd_len = std::string(cmd).size();
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
    size_t p = text.rfind("####");
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

bool math_answers_equal(const std::string& a, const std::string& b) {
    return equal_normalised(normalize_math_answer(a), normalize_math_answer(b));
}

}  // namespace stride
