// Template source into pieces: finds each tag, applies whitespace control, and tokenizes the tag's
// inside (names, numbers, strings with Python's escapes, operators).
#include "common/jinja/jinja_lex.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "common/base/error.h"
#include "common/jinja/jinja_text.h"

namespace stride::jinja {

namespace {

class Lexer {
   public:
    Lexer(std::string_view src, const std::string& name) : src_(src), name_(name) {}

    std::vector<Piece> run() {
        std::vector<Piece> out;
        std::string text;
        bool strip_next = false;    // a `-%}`, `-}}` or `-#}` before: strip the text's leading whitespace
        bool trim_newline = false;  // trim_blocks: a `%}` or `#}` before: drop one newline
        while (at_ < src_.size()) {
            const size_t chunk_start = at_;
            size_t open = find_open(at_);
            std::string chunk(src_.substr(at_, open - at_));
            if (trim_newline && !chunk.empty() && chunk[0] == '\n') chunk.erase(0, 1);
            if (strip_next) chunk = lstrip_ws(chunk);
            strip_next = trim_newline = false;
            advance_to(open);
            if (open >= src_.size()) {
                text += chunk;
                break;
            }
            char kind = src_[open + 1];
            bool minus = open + 2 < src_.size() && src_[open + 2] == '-';
            bool plus = open + 2 < src_.size() && src_[open + 2] == '+';
            if (minus) {
                chunk = rstrip_ws(chunk);
            } else if (kind != '{' && !plus) {
                // lstrip_blocks: spaces and tabs from the start of a line up to a block or comment tag go.
                std::string_view raw = src_.substr(chunk_start, open - chunk_start);
                size_t nl = raw.rfind('\n');
                bool line_start =
                    nl != std::string_view::npos || chunk_start == 0 || src_[chunk_start - 1] == '\n';
                size_t from = nl == std::string_view::npos ? 0 : nl + 1;
                if (line_start && raw.find_first_not_of(" \t", from) == std::string_view::npos)
                    chunk.erase(chunk.size() - std::min(chunk.size(), raw.size() - from));
            }
            text += chunk;
            Pos tag_pos = pos_;
            advance_to(open + 2 + (minus || plus ? 1 : 0));
            if (kind == '#') {
                size_t close = src_.find("#}", at_);
                if (close == std::string::npos) fail(tag_pos, "a comment is not closed (missing '#}')");
                strip_next = close > at_ && src_[close - 1] == '-';
                trim_newline = !(close > at_ && src_[close - 1] == '+');
                advance_to(close + 2);
                continue;
            }
            if (!text.empty()) out.push_back({true, std::move(text), {}});
            text.clear();
            Tag tag{kind == '%', tag_pos, {}};
            bool plus_after = false;
            lex_tag(tag, strip_next, plus_after);
            trim_newline = tag.statement && !plus_after;
            out.push_back({false, "", std::move(tag)});
        }
        if (!text.empty()) out.push_back({true, std::move(text), {}});
        return out;
    }

   private:
    std::string_view src_;
    const std::string& name_;
    size_t at_ = 0;
    Pos pos_;

    [[noreturn]] void fail(Pos p, const std::string& msg) const {
        throw Error(name_ + ": " + where(p) + ": " + msg);
    }

    size_t find_open(size_t from) const {
        while (true) {
            size_t p = src_.find('{', from);
            if (p == std::string::npos || p + 1 >= src_.size()) return src_.size();
            char c = src_[p + 1];
            if (c == '{' || c == '%' || c == '#') return p;
            from = p + 1;
        }
    }

    void advance_to(size_t to) {
        to = std::min(to, src_.size());
        for (; at_ < to; ++at_) {
            if (src_[at_] == '\n') {
                ++pos_.line;
                pos_.col = 1;
            } else if ((static_cast<unsigned char>(src_[at_]) & 0xC0) != 0x80) {
                ++pos_.col;
            }
        }
    }

    static bool is_word(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }

    void lex_tag(Tag& tag, bool& strip_after, bool& plus_after) {
        const char* close = tag.statement ? "%}" : "}}";
        int depth = 0;  // (), [], {} open inside the tag: a `}}` there closes a dict, not the tag
        while (true) {
            while (at_ < src_.size() && std::strchr(" \t\r\n", src_[at_])) advance_to(at_ + 1);
            if (at_ >= src_.size())
                fail(tag.pos, std::string("a tag is not closed (missing '") + close + "')");
            std::string_view rest = src_.substr(at_);
            if (depth == 0) {
                if (rest.starts_with(std::string("-") + close) ||
                    rest.starts_with(std::string("+") + close)) {
                    strip_after = rest[0] == '-';
                    plus_after = rest[0] == '+';
                    advance_to(at_ + 3);
                    return;
                }
                if (rest.starts_with(close)) {
                    strip_after = false;
                    advance_to(at_ + 2);
                    return;
                }
            }
            Tok t{T::op, "", pos_};
            char c = rest[0];
            if (c == '\'' || c == '"') {
                t.type = T::string;
                size_t k = 1;
                for (; k < rest.size() && rest[k] != c; ++k) {
                    if (rest[k] != '\\' || k + 1 >= rest.size()) {
                        t.text += rest[k];
                        continue;
                    }
                    char e = rest[++k];
                    switch (e) {
                        case 'n':
                            t.text += '\n';
                            break;
                        case 't':
                            t.text += '\t';
                            break;
                        case 'r':
                            t.text += '\r';
                            break;
                        case 'b':
                            t.text += '\b';
                            break;
                        case 'f':
                            t.text += '\f';
                            break;
                        case 'v':
                            t.text += '\v';
                            break;
                        case '0':
                            t.text += '\0';
                            break;
                        case '\\':
                        case '\'':
                        case '"':
                            t.text += e;
                            break;
                        case '\n':
                            break;
                        case 'x':
                        case 'u':
                        case 'U': {
                            size_t len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                            uint32_t cp = 0;
                            if (k + len >= rest.size()) fail(pos_, "a string escape is cut short");
                            for (size_t h = 1; h <= len; ++h) {
                                char d = rest[k + h];
                                int v = d >= '0' && d <= '9'   ? d - '0'
                                        : d >= 'a' && d <= 'f' ? d - 'a' + 10
                                        : d >= 'A' && d <= 'F' ? d - 'A' + 10
                                                               : -1;
                                if (v < 0) fail(pos_, std::string("invalid \\") + e + " escape in a string");
                                cp = cp * 16 + v;
                            }
                            utf8_append(t.text, cp);
                            k += len;
                            break;
                        }
                        default:
                            t.text += '\\';
                            t.text += e;  // Python keeps unknown escapes
                    }
                }
                if (k >= rest.size()) fail(pos_, "a string literal is not closed");
                advance_to(at_ + k + 1);
            } else if (c >= '0' && c <= '9') {
                size_t k = 0;
                while (k < rest.size() &&
                       (std::isdigit(static_cast<unsigned char>(rest[k])) || rest[k] == '_'))
                    ++k;
                bool is_float = false;
                bool after_dot =
                    !tag.toks.empty() && tag.toks.back().type == T::op && tag.toks.back().text == ".";
                if (!after_dot && k + 1 < rest.size() && rest[k] == '.' &&
                    std::isdigit(static_cast<unsigned char>(rest[k + 1]))) {
                    is_float = true;
                    ++k;
                    while (k < rest.size() && std::isdigit(static_cast<unsigned char>(rest[k]))) ++k;
                }
                if (!after_dot && k < rest.size() && (rest[k] == 'e' || rest[k] == 'E')) {
                    size_t e = k + 1;
                    if (e < rest.size() && (rest[e] == '+' || rest[e] == '-')) ++e;
                    if (e < rest.size() && std::isdigit(static_cast<unsigned char>(rest[e]))) {
                        is_float = true;
                        k = e;
                        while (k < rest.size() && std::isdigit(static_cast<unsigned char>(rest[k]))) ++k;
                    }
                }
                std::string digits;
                for (char d : rest.substr(0, k))
                    if (d != '_') digits += d;
                t.text = digits;
                try {
                    if (is_float) {
                        t.type = T::floating;
                        t.f = std::stod(digits);
                    } else {
                        t.type = T::integer;
                        t.i = std::stoll(digits);
                    }
                } catch (const std::exception&) {
                    fail(pos_, "number '" + digits + "' is out of range");
                }
                advance_to(at_ + k);
            } else if (is_word(c)) {
                size_t k = 0;
                while (k < rest.size() && is_word(rest[k])) ++k;
                t.type = T::name;
                t.text = std::string(rest.substr(0, k));
                advance_to(at_ + k);
            } else {
                static const char* ops[] = {"**", "//", "==", "!=", "<=", ">=", "(", ")", "[",
                                            "]",  "{",  "}",  ",",  ".",  ":",  "|", "~", "+",
                                            "-",  "*",  "/",  "%",  "<",  ">",  "="};
                const char* hit = nullptr;
                for (const char* op : ops)
                    if (rest.starts_with(op)) {
                        hit = op;
                        break;
                    }
                if (!hit) fail(pos_, std::string("unexpected character '") + c + "'");
                t.text = hit;
                if (t.text == "(" || t.text == "[" || t.text == "{") ++depth;
                if ((t.text == ")" || t.text == "]" || t.text == "}") && depth > 0) --depth;
                advance_to(at_ + t.text.size());
            }
            tag.toks.push_back(std::move(t));
        }
    }
};

}  // namespace

std::vector<Piece> lex_template(std::string_view src, const std::string& name) {
    return Lexer(src, name).run();
}

}  // namespace stride::jinja
