#include "reward/math/math_lex.h"

#include <algorithm>
#include <cstdint>

namespace stride {

namespace {

constexpr size_t kMaxSource = 4096;  // an extracted answer longer than this is not a math answer
constexpr size_t kMaxBraceDepth = 128;

enum class Action : uint8_t { emit, skip, skip_delim, wrap_math, wrap_text, begin, end, mathbb };

struct Command {
    std::string_view name;
    Action action;
    Tok tok = Tok::end;
    MathFunc func = MathFunc::sin;
};

void add_commands(std::vector<Command>& v, Action action, std::initializer_list<std::string_view> names,
                  Tok tok = Tok::end) {
    for (auto name : names) v.push_back({name, action, tok});
}

// Commands with a meaning of their own; any other \name is a symbol (a variable named \name).
const std::vector<Command>& commands() {
    static const std::vector<Command> table = [] {
        std::vector<Command> v;
        add_commands(v, Action::skip_delim,
                     {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl",
                      "biggr", "Biggl", "Biggr"});
        add_commands(v, Action::skip,
                     {"displaystyle", "textstyle", "scriptstyle", "quad", "qquad", "enspace", "thinspace",
                      "medspace", "thickspace", "negthinspace", "limits", "nolimits"});
        add_commands(v, Action::wrap_math,
                     {"mathbf", "mathit", "boldsymbol", "bm", "mathsf", "mathnormal", "boxed", "fbox"});
        add_commands(v, Action::wrap_text,
                     {"text", "textrm", "textbf", "textit", "textnormal", "textsf", "texttt", "mbox", "hbox",
                      "mathrm", "operatorname", "emph"});
        add_commands(v, Action::begin, {"begin"});
        add_commands(v, Action::end, {"end"});
        add_commands(v, Action::mathbb, {"mathbb"});
        add_commands(v, Action::emit, {"frac", "dfrac", "tfrac", "cfrac"}, Tok::frac);
        add_commands(v, Action::emit, {"sqrt"}, Tok::sqrt);
        add_commands(v, Action::emit, {"binom", "dbinom", "tbinom"}, Tok::binom);
        add_commands(v, Action::emit, {"cdot", "times", "ast"}, Tok::times);
        add_commands(v, Action::emit, {"div"}, Tok::divide);
        add_commands(v, Action::emit, {"pm"}, Tok::pm);
        add_commands(v, Action::emit, {"mp"}, Tok::mp);
        add_commands(v, Action::emit, {"le", "leq", "leqslant"}, Tok::le);
        add_commands(v, Action::emit, {"ge", "geq", "geqslant"}, Tok::ge);
        add_commands(v, Action::emit, {"lt"}, Tok::lt);
        add_commands(v, Action::emit, {"gt"}, Tok::gt);
        add_commands(v, Action::emit, {"ne", "neq"}, Tok::ne);
        add_commands(v, Action::emit, {"approx"}, Tok::approx);
        add_commands(v, Action::emit, {"colon"}, Tok::colon);
        add_commands(v, Action::emit, {"in"}, Tok::in);
        add_commands(v, Action::emit, {"cup"}, Tok::cup);
        add_commands(v, Action::emit, {"infty", "infinity"}, Tok::infinity);
        add_commands(v, Action::emit, {"emptyset", "varnothing"}, Tok::emptyset);
        add_commands(v, Action::emit, {"circ", "degree"}, Tok::degree);
        add_commands(v, Action::emit, {"lbrace"}, Tok::lset);
        add_commands(v, Action::emit, {"rbrace"}, Tok::rset);
        add_commands(v, Action::emit, {"langle"}, Tok::lparen);
        add_commands(v, Action::emit, {"rangle"}, Tok::rparen);
        add_commands(v, Action::emit, {"lvert", "rvert", "vert", "lVert", "rVert", "Vert"}, Tok::bar);
        const std::pair<std::string_view, MathFunc> functions[] = {
            {"sin", MathFunc::sin},     {"cos", MathFunc::cos},     {"tan", MathFunc::tan},
            {"sec", MathFunc::sec},     {"csc", MathFunc::csc},     {"cot", MathFunc::cot},
            {"arcsin", MathFunc::asin}, {"arccos", MathFunc::acos}, {"arctan", MathFunc::atan},
            {"sinh", MathFunc::sinh},   {"cosh", MathFunc::cosh},   {"tanh", MathFunc::tanh},
            {"ln", MathFunc::ln},       {"log", MathFunc::log},     {"exp", MathFunc::exp}};
        for (const auto& [name, fn] : functions) v.push_back({name, Action::emit, Tok::func, fn});
        std::sort(v.begin(), v.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
        return v;
    }();
    return table;
}

const Command* find_command(std::string_view name) {
    const auto& t = commands();
    auto it = std::lower_bound(t.begin(), t.end(), name,
                               [](const Command& c, std::string_view n) { return c.name < n; });
    return it != t.end() && it->name == name ? &*it : nullptr;
}

// Bare words that are functions when written without a backslash ("sin x", "log 2").
bool bare_function(std::string_view w, MathFunc* f) {
    static const std::pair<std::string_view, MathFunc> kNames[] = {
        {"sin", MathFunc::sin}, {"cos", MathFunc::cos}, {"tan", MathFunc::tan},
        {"ln", MathFunc::ln},   {"log", MathFunc::log}, {"exp", MathFunc::exp}};
    for (const auto& [name, fn] : kNames)
        if (w == name) {
            *f = fn;
            return true;
        }
    return false;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool three_digits_at(std::string_view s, size_t i) {
    return i + 3 <= s.size() && is_digit(s[i]) && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
           (i + 3 == s.size() || !is_digit(s[i + 3]));
}

// Non-ASCII characters models write in answers; false for anything else.
bool lex_unicode(std::string_view s, size_t& i, Token& t) {
    struct U {
        std::string_view bytes;
        Tok tok;
    };
    static const U kChars[] = {
        {"\xCF\x80", Tok::symbol},       {"\xE2\x88\x92", Tok::minus}, {"\xC3\x97", Tok::times},
        {"\xC2\xB7", Tok::times},        {"\xC3\xB7", Tok::divide},    {"\xE2\x88\x9A", Tok::sqrt},
        {"\xE2\x88\x9E", Tok::infinity}, {"\xC2\xB0", Tok::degree},    {"\xE2\x89\xA4", Tok::le},
        {"\xE2\x89\xA5", Tok::ge},       {"\xE2\x89\xA0", Tok::ne},    {"\xE2\x88\xAA", Tok::cup},
        {"\xC2\xB1", Tok::pm},           {"\xE2\x88\x88", Tok::in},    {"\xE2\x80\x93", Tok::minus},
    };
    for (const auto& u : kChars) {
        if (s.substr(i, u.bytes.size()) == u.bytes) {
            t.kind = u.tok;
            t.text = u.tok == Tok::symbol ? std::string_view("\\pi") : u.bytes;
            i += u.bytes.size();
            return true;
        }
    }
    return false;
}

class Lexer {
   public:
    Lexer(std::string_view s, std::vector<Token>* out) : s_(s), out_(out) {}

    bool run() {
        if (s_.size() > kMaxSource) return false;
        out_->clear();
        while (i_ < s_.size()) {
            char c = s_[i_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '~' || c == '$') {
                space_ = true;
                ++i_;
            } else if (is_digit(c) || (c == '.' && i_ + 1 < s_.size() && is_digit(s_[i_ + 1]))) {
                number();
            } else if (is_letter(c)) {
                letters();
            } else if (c == '\\') {
                if (!command()) return false;
            } else if (static_cast<unsigned char>(c) >= 0x80) {
                Token t;
                if (s_.substr(i_, 2) == "\xC2\xA0") {  // no-break space
                    space_ = true;
                    i_ += 2;
                    continue;
                }
                if (!lex_unicode(s_, i_, t)) return false;
                push(t);
            } else if (!punctuation(c)) {
                return false;
            }
        }
        if (!braces_.empty()) return false;
        Token end;
        end.kind = Tok::end;
        out_->push_back(end);
        return true;
    }

   private:
    bool in_text() const { return text_depth_ > 0; }

    void push(Token t) {
        t.space_before = space_;
        t.in_text = in_text();
        space_ = false;
        out_->push_back(t);
    }
    void emit(Tok kind, size_t begin, size_t end) {
        Token t;
        t.kind = kind;
        t.text = s_.substr(begin, end - begin);
        push(t);
    }

    // Length of a thousands separator at j followed by a group of three digits ("," "{,}" "{, }"
    // "\," ",\!" ",\! " " "), or 0.
    size_t thousands_separator(size_t j) const {
        if (j >= s_.size()) return 0;
        static constexpr std::string_view kSeps[] = {",\\! ", ",\\!", "{, }", "{,}", "\\,"};
        for (std::string_view sep : kSeps)
            if (s_.substr(j, sep.size()) == sep && three_digits_at(s_, j + sep.size())) return sep.size();
        const bool plain = bracket_depth_ == 0 && !in_text();
        if (plain && (s_[j] == ',' || s_[j] == ' ') && three_digits_at(s_, j + 1)) return 1;
        return 0;
    }

    void number() {
        size_t b = i_, j = i_;
        while (j < s_.size() && is_digit(s_[j])) ++j;
        // Thousands separators: a first group of 1-3 digits (not a leading 0: "0,111" is a decimal
        // comma), then groups of exactly three.
        if (j - b >= 1 && j - b <= 3 && s_[b] != '0') {
            while (size_t sep = thousands_separator(j)) j += sep + 3;
        }
        if (j + 1 < s_.size() && s_[j] == '.' && is_digit(s_[j + 1])) {
            ++j;
            while (j < s_.size() && is_digit(s_[j])) ++j;
        }
        // Repeating decimals: 0.\overline{3}, 0.1\overline{6}.
        size_t k = j < s_.size() && s_[j] == '.' ? j + 1 : j;
        if (s_.substr(b, k - b).find('.') != std::string_view::npos && s_.substr(k, 10) == "\\overline{") {
            size_t m = k + 10, d0 = m;
            while (m < s_.size() && is_digit(s_[m])) ++m;
            if (m > d0 && m < s_.size() && s_[m] == '}') {
                emit(Tok::number, b, m + 1);
                i_ = m + 1;
                return;
            }
        }
        // 1.5e3 / 2E-4 (not 2e, 2e^x: those are products with Euler's number or a variable).
        if (j < s_.size() && (s_[j] == 'e' || s_[j] == 'E') && !in_text()) {
            size_t e = j + 1;
            if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) ++e;
            if (e < s_.size() && is_digit(s_[e])) {
                while (e < s_.size() && is_digit(s_[e])) ++e;
                if (e == s_.size() || !is_letter(s_[e])) j = e;
            }
        }
        emit(Tok::number, b, j);
        i_ = j;
    }

    void letters() {
        size_t b = i_, j = i_;
        while (j < s_.size() && is_letter(s_[j])) ++j;
        i_ = j;
        std::string_view w = s_.substr(b, j - b);
        // One letter is a variable even in \text{(A)}: multiple-choice answers keep their case.
        if (w.size() == 1) return emit(in_text() ? Tok::word : Tok::letter, b, j);
        if (in_text()) return emit(Tok::word, b, j);
        MathFunc f;
        if (w == "sqrt") return emit(Tok::sqrt, b, j);
        if (bare_function(w, &f)) {
            Token t;
            t.kind = Tok::func;
            t.func = f;
            t.text = w;
            return push(t);
        }
        if (w == "inf" || w == "infinity" || w == "infty") return emit(Tok::infinity, b, j);
        emit(Tok::word, b, j);
    }

    // After \left, \right, \big...: "." is the empty delimiter.
    void skip_empty_delimiter() {
        size_t k = i_;
        while (k < s_.size() && s_[k] == ' ') ++k;
        if (k < s_.size() && s_[k] == '.') i_ = k + 1;
    }

    // "{name}" at i_ (spaces allowed before): the name, or empty.
    std::string_view braced_name() {
        size_t k = i_;
        while (k < s_.size() && s_[k] == ' ') ++k;
        if (k >= s_.size() || s_[k] != '{') return {};
        size_t close = s_.find('}', k);
        if (close == std::string_view::npos) return {};
        i_ = close + 1;
        return s_.substr(k + 1, close - k - 1);
    }

    bool open_wrapper(bool text) {
        size_t k = i_;
        while (k < s_.size() && s_[k] == ' ') ++k;
        if (k >= s_.size() || s_[k] != '{' || braces_.size() >= kMaxBraceDepth) return false;
        braces_.push_back(text ? 2 : 1);
        if (text) ++text_depth_;
        i_ = k + 1;
        return true;
    }

    static bool matrix_env(std::string_view env) {
        return env == "matrix" || env == "pmatrix" || env == "bmatrix" || env == "Bmatrix" ||
               env == "vmatrix" || env == "Vmatrix" || env == "smallmatrix" || env == "array";
    }

    bool command() {
        size_t b = i_;
        ++i_;
        if (i_ >= s_.size()) return false;
        char c = s_[i_];
        if (c == '\\' && i_ + 1 < s_.size() && is_letter(s_[i_ + 1]) && matrix_depth_ == 0)
            c = s_[++i_];  // "\\le" outside a matrix: a backslash doubled by a program's string
        if (!is_letter(c)) {
            ++i_;
            switch (c) {
                case '[':
                case ']':
                case '(':
                case ')':  // \[ \] \( \): math delimiters, like $
                case ',':
                case ';':
                case ':':
                case '!':
                case ' ':
                case '$':
                case '&':
                    space_ = true;
                    return true;
                case '{':
                    emit(Tok::lset, b, i_);
                    ++bracket_depth_;
                    return true;
                case '}':
                    emit(Tok::rset, b, i_);
                    --bracket_depth_;
                    return true;
                case '%':
                    emit(Tok::percent, b, i_);
                    return true;
                case '\\':
                    emit(Tok::rowsep, b, i_);
                    return true;
                case '|':
                    emit(Tok::bar, b, i_);
                    return true;
                default:
                    return false;
            }
        }
        size_t j = i_;
        while (j < s_.size() && is_letter(s_[j])) ++j;
        std::string_view name = s_.substr(i_, j - i_);
        i_ = j;
        const Command* cmd = find_command(name);
        if (!cmd) {
            emit(Tok::symbol, b, j);
            return true;
        }
        switch (cmd->action) {
            case Action::skip:
                space_ = true;
                return true;
            case Action::skip_delim:
                skip_empty_delimiter();
                return true;
            case Action::wrap_math:
                return open_wrapper(false);
            case Action::wrap_text:
                return open_wrapper(true);
            case Action::begin:
            case Action::end: {
                std::string_view env = braced_name();
                if (!matrix_env(env)) return false;
                if (cmd->action == Action::begin && env == "array") braced_name();  // the column spec
                matrix_depth_ += cmd->action == Action::begin ? 1 : -1;
                emit(cmd->action == Action::begin ? Tok::begin_matrix : Tok::end_matrix, b, i_);
                return true;
            }
            case Action::mathbb: {
                std::string_view set = braced_name();
                if (set == "R") return emit(Tok::reals, b, i_), true;
                if (set.size() != 1 || !is_letter(set[0])) return false;
                emit(Tok::symbol, b, i_);  // \mathbb{Z}: a name
                return true;
            }
            case Action::emit: {
                Token t;
                t.kind = cmd->tok;
                t.func = cmd->func;
                t.text = s_.substr(b, j - b);
                if (t.kind == Tok::lset) ++bracket_depth_;
                if (t.kind == Tok::rset) --bracket_depth_;
                push(t);
                return true;
            }
        }
        return false;
    }

    bool degree_after_caret() {
        size_t k = i_ + 1;
        while (k < s_.size() && s_[k] == ' ') ++k;
        bool brace = k < s_.size() && s_[k] == '{';
        if (brace)
            for (++k; k < s_.size() && s_[k] == ' ';) ++k;
        if (s_.substr(k, 5) != "\\circ" || (k + 5 < s_.size() && is_letter(s_[k + 5]))) return false;
        k += 5;
        if (brace) {
            while (k < s_.size() && s_[k] == ' ') ++k;
            if (k >= s_.size() || s_[k] != '}') return false;
            ++k;
        }
        emit(Tok::degree, i_, k);
        i_ = k;
        return true;
    }

    bool punctuation(char c) {
        size_t b = i_;
        auto one = [&](Tok t) {
            ++i_;
            emit(t, b, i_);
            return true;
        };
        switch (c) {
            case '+':
                return one(Tok::plus);
            case '-':
                return one(Tok::minus);
            case '*':
                return one(Tok::times);
            case '/':
                return one(Tok::divide);
            case '_':
                return one(Tok::underscore);
            case '|':
                return one(Tok::bar);
            case ';':
                return one(Tok::semicolon);
            case ':':
                return one(Tok::colon);
            case '=':
                return one(Tok::eq);
            case '&':
                return one(Tok::amp);
            case '%':
                return one(Tok::percent);
            case ',':
                return one(Tok::comma);
            case '^':
                if (degree_after_caret()) return true;
                return one(Tok::caret);
            case '(':
                ++bracket_depth_;
                return one(Tok::lparen);
            case ')':
                --bracket_depth_;
                return one(Tok::rparen);
            case '[':
                ++bracket_depth_;
                return one(Tok::lbrack);
            case ']':
                --bracket_depth_;
                return one(Tok::rbrack);
            case '<':
            case '>':
            case '!':
                if (i_ + 1 < s_.size() && s_[i_ + 1] == '=') {
                    i_ += 2;
                    emit(c == '<' ? Tok::le : c == '>' ? Tok::ge : Tok::ne, b, i_);
                    return true;
                }
                return one(c == '<' ? Tok::lt : c == '>' ? Tok::gt : Tok::bang);
            case '.':  // a stray period (sentence end, \left. already gone)
                ++i_;
                return true;
            case '{':
                if (s_.substr(i_, 3) == "{,}") {
                    i_ += 3;
                    emit(Tok::comma, b, i_);
                    return true;
                }
                if (braces_.size() >= kMaxBraceDepth) return false;
                braces_.push_back(0);
                return one(Tok::lbrace);
            case '}': {
                if (braces_.empty()) return false;
                uint8_t kind = braces_.back();
                braces_.pop_back();
                if (kind == 0) return one(Tok::rbrace);
                if (kind == 2) --text_depth_;
                ++i_;
                return true;
            }
            default:
                return false;
        }
    }

    std::string_view s_;
    std::vector<Token>* out_;
    size_t i_ = 0;
    bool space_ = false;
    int bracket_depth_ = 0;
    int text_depth_ = 0;
    int matrix_depth_ = 0;
    std::vector<uint8_t> braces_;  // 0: a group, 1: a math wrapper's braces, 2: a text wrapper's
};

}  // namespace

bool lex_math(std::string_view src, std::vector<Token>* out) {
    return Lexer(src, out).run();
}

}  // namespace stride
