// The grammar of a math answer (math_expr.h): a recursive-descent parser over the tokens of
// math_lex.h. The nodes it makes come from math_tree_builder.h, the canonical form of relations and
// lists (intervals, equation chains, solution tuples) from math_relation.h.
#include "reward/math/math_expr.h"

#include <cstdint>
#include <vector>

#include "reward/math/math_number.h"
#include "reward/math/math_relation.h"

namespace stride {

namespace {

constexpr int kMaxDepth = 128;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

std::string lower(std::string_view w) {
    std::string s(w);
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

bool word_is(const Token& t, std::string_view w) {
    if (t.kind != Tok::word || t.text.size() != w.size()) return false;
    for (size_t i = 0; i < w.size(); ++i)
        if ((t.text[i] | 0x20) != w[i]) return false;
    return true;
}

bool is_separator(const Token& t) {
    return t.kind == Tok::comma || t.kind == Tok::semicolon || word_is(t, "or") || word_is(t, "and");
}

bool in_list(std::string_view w, std::initializer_list<std::string_view> list) {
    for (auto x : list)
        if (w == x) return true;
    return false;
}

// Two-letter words that are words, not the product of two variables.
bool short_word(std::string_view w) {
    return in_list(lower(w), {"no", "or", "is", "it", "if", "of", "to", "at", "an", "as", "be",
                              "by", "do", "on", "so", "up", "us", "we", "am", "pm", "ok"});
}

// A word after a number that names its unit: anything in \text{}, bare words of three letters or
// more ("5 dollars", "3 apples"), and the common two-letter units.
bool unit_word(const Token& t) {
    if (t.kind != Tok::word) return false;
    if (t.in_text || t.text.size() >= 3) return true;
    return in_list(lower(t.text), {"cm", "mm", "km", "kg", "mg", "ml", "ft", "yd", "mi", "lb", "oz", "hr",
                                   "in", "am", "pm", "sq"});
}

// The grammar of math_expr.h over the lexer's tokens; the nodes come from MathTreeBuilder, the
// canonical form of relations and solution lists from MathRelationBuilder.
class Parser : private MathRelationBuilder {
   public:
    Parser(std::vector<Token> tokens, MathExpr* e) : MathRelationBuilder(e), t_(std::move(tokens)) {}

    bool parse() {
        Frame items(this);
        std::vector<size_t> groups;  // where each ';'-separated group of items starts
        if (!item_list(items, &groups) || !at(Tok::end) || items.size() == 0) return false;
        if (groups.size() > 1 && solution_groups(items.data(), items.size(), groups))
            return !failed_ && e_->root >= 0;
        e_->root = items.size() == 1 ? items[0] : nary(NodeKind::list, items.data(), items.size());
        return !failed_ && e_->root >= 0;
    }

   private:
    struct Depth {
        explicit Depth(Parser* p) : p_(p) {
            if (++p_->depth_ > kMaxDepth) p_->failed_ = true;
        }
        ~Depth() { --p_->depth_; }
        Parser* p_;
    };

    // The operands of the rule being parsed, on a stack shared by all rules (no allocation per rule);
    // popped when the rule returns.
    struct Frame {
        explicit Frame(Parser* p) : p_(p), base_(p->stack_.size()) {}
        ~Frame() { p_->stack_.resize(base_); }
        void push(int x) { p_->stack_.push_back(x); }
        void reset(int x) {
            p_->stack_.resize(base_);
            p_->stack_.push_back(x);
        }
        int back() const { return p_->stack_.back(); }
        int operator[](size_t i) const { return p_->stack_[base_ + i]; }
        size_t size() const { return p_->stack_.size() - base_; }
        const int* data() const { return p_->stack_.data() + base_; }
        Parser* p_;
        size_t base_;
    };

    const Token& peek() const { return t_[p_]; }
    bool at(Tok k) const { return t_[p_].kind == k; }
    void next() {
        if (t_[p_].kind != Tok::end) ++p_;
    }
    bool expect(Tok k) {
        if (!at(k)) return false;
        next();
        return true;
    }

    // ---- lists and relations -------------------------------------------------------------------

    bool item_list(Frame& out, std::vector<size_t>* groups = nullptr) {
        if (groups) groups->push_back(0);
        for (;;) {
            int it = item();
            if (it < 0) return false;
            out.push(it);
            if (!is_separator(peek())) return true;
            if (groups && at(Tok::semicolon)) groups->push_back(out.size());
            next();
        }
    }

    int item() {
        Depth d(this);
        constexpr int kMaxChain = 8;
        int operands[kMaxChain + 1] = {ratio()};
        Tok ops[kMaxChain];
        int nops = 0;
        while (operands[nops] >= 0 && (is_relop(peek().kind) || at(Tok::approx))) {
            if (nops == kMaxChain) return -1;
            ops[nops++] = peek().kind;
            next();
            operands[nops] = ratio();
        }
        for (int i = 0; i <= nops; ++i)
            if (operands[i] < 0) return -1;
        return canonical_relation(operands, ops, nops);
    }

    // "11:21", "V_1:V_2": a ratio, compared term by term like a tuple.
    int ratio() {
        int first = union_();
        if (!at(Tok::colon)) return first;
        Frame parts(this);
        parts.push(first);
        while (at(Tok::colon)) {
            next();
            parts.push(union_());
        }
        int id = nary(NodeKind::tuple, parts.data(), parts.size());
        if (id >= 0) e_->nodes[id].open = e_->nodes[id].close = ':';
        return id;
    }

    int union_() {
        int first = sum();
        if (!at(Tok::cup)) return first;
        Frame parts(this);
        parts.push(first);
        while (at(Tok::cup)) {
            next();
            parts.push(sum());
        }
        return nary(NodeKind::list, parts.data(), parts.size());
    }

    // ---- arithmetic ------------------------------------------------------------------------------

    int plus_minus(int a, int b, int sign) {
        if (b < 0) return -1;
        Node n;
        n.kind = NodeKind::plus_minus;
        n.a = a;
        n.b = b;
        n.sign = static_cast<signed char>(sign);
        return add(n);
    }

    int sum() {
        Frame terms(this);
        if (at(Tok::pm) || at(Tok::mp)) {
            int sign = at(Tok::pm) ? 1 : -1;
            next();
            terms.push(plus_minus(-1, term(), sign));
        } else {
            terms.push(term());
        }
        for (;;) {
            if (terms.back() < 0) return -1;
            if (at(Tok::plus)) {
                next();
                terms.push(term());
            } else if (at(Tok::minus)) {
                next();
                terms.push(unary(NodeKind::neg, term()));
            } else if (at(Tok::pm) || at(Tok::mp)) {
                int sign = at(Tok::pm) ? 1 : -1;
                next();
                int left = nary(NodeKind::add, terms.data(), terms.size());
                terms.reset(plus_minus(left, term(), sign));
            } else {
                return nary(NodeKind::add, terms.data(), terms.size());
            }
        }
    }

    bool starts_implicit_factor(const Token& t) const {
        switch (t.kind) {
            case Tok::number:
            case Tok::letter:
            case Tok::symbol:
            case Tok::func:
            case Tok::frac:
            case Tok::sqrt:
            case Tok::binom:
            case Tok::lparen:
            case Tok::lbrace:
                return true;
            case Tok::word:
                return !is_separator(t);
            default:
                return false;
        }
    }

    bool is_word_symbol(int id) const {
        return id >= 0 && e_->nodes[id].kind == NodeKind::symbol &&
               e_->symbols[e_->nodes[id].index].size() > 1 && e_->symbols[e_->nodes[id].index][0] != '\\';
    }

    int term() {
        Frame factors(this);
        factors.push(signed_factor());
        bool only_words = is_word_symbol(factors[0]);
        for (;;) {
            if (factors.back() < 0) return -1;
            const Token& t = peek();
            if (t.kind == Tok::times) {
                next();
                factors.push(signed_factor());
            } else if (t.kind == Tok::divide) {
                next();
                int num = nary(NodeKind::mul, factors.data(), factors.size());
                factors.reset(binary(NodeKind::div, num, signed_factor()));
            } else if (!only_words && !is_separator(t) && unit_word(t)) {
                next();  // "10 cm", "5\text{ dollars}", "3\text{ m}^2"
                if (at(Tok::caret)) {
                    next();
                    if (!at(Tok::number) && !at(Tok::lbrace)) return -1;
                    if (exponent() < 0) return -1;
                }
            } else if (starts_implicit_factor(t)) {
                if (t.kind == Tok::number && factors.size() == 1 && t_[p_ - 1].kind == Tok::number &&
                    integer_literal(factors[0])) {
                    factors.reset(spaced_mixed_number(factors[0]));  // "4 4/9"
                    continue;
                }
                // "2 3" is not a product anyone writes; more likely a typo or "2 300" (thousands).
                if (t.kind == Tok::number && e_->nodes[factors.back()].kind == NodeKind::number) return -1;
                const bool mixed = t.kind == Tok::frac && factors.size() == 1 && integer_literal(factors[0]);
                int f = power();
                if (mixed && f >= 0 && e_->nodes[f].kind == NodeKind::div &&
                    integer_literal(e_->nodes[f].a) && integer_literal(e_->nodes[f].b)) {
                    // A mixed number, as MATH writes them: 2\frac{1}{4} is 9/4, -2\frac{1}{4} is -9/4.
                    int whole = factors[0];
                    bool negative = e_->nodes[whole].kind == NodeKind::neg;
                    int sum = nary(NodeKind::add, {negative ? e_->nodes[whole].a : whole, f});
                    factors.reset(negative ? unary(NodeKind::neg, sum) : sum);
                    continue;
                }
                only_words &= is_word_symbol(f);
                factors.push(f);
            } else {
                return nary(NodeKind::mul, factors.data(), factors.size());
            }
        }
    }

    // "4 4/9" is 40/9, "-4 4/9" is -40/9: a whole number, a space, then a proper fraction of integer
    // literals. Anything else after "4 " (4 4/0, 11 7/6, 4 4/9 2) does not parse.
    int spaced_mixed_number(int whole) {
        if (!at(Tok::number) || t_[p_ + 1].kind != Tok::divide || t_[p_ + 2].kind != Tok::number) return -1;
        const int num = primary();
        next();  // '/'
        const int den = primary();
        if (!integer_literal(num) || !integer_literal(den) || starts_implicit_factor(peek()) ||
            at(Tok::caret) || !e_->numbers[e_->nodes[num].index].is_rational() ||
            !e_->numbers[e_->nodes[den].index].is_rational())
            return -1;
        const Rational n = e_->numbers[e_->nodes[num].index].as_rational();
        const Rational d = e_->numbers[e_->nodes[den].index].as_rational();
        if (d.num == 0 || n.num >= d.num) return -1;
        const bool negative = e_->nodes[whole].kind == NodeKind::neg;
        int sum =
            nary(NodeKind::add, {negative ? e_->nodes[whole].a : whole, binary(NodeKind::div, num, den)});
        return negative ? unary(NodeKind::neg, sum) : sum;
    }

    // 3, or -3 as a factor: the whole part of a mixed number.
    bool integer_literal(int id) const {
        if (id >= 0 && e_->nodes[id].kind == NodeKind::neg) id = e_->nodes[id].a;
        if (id < 0 || e_->nodes[id].kind != NodeKind::number || e_->nodes[id].base != 0) return false;
        const Node& n = e_->nodes[id];
        for (char c : std::string_view(e_->source).substr(n.digits_pos, n.digits_len))
            if (c == '.' || c == 'e' || c == 'E') return false;  // thousands separators are fine
        return true;
    }

    int signed_factor() {
        Depth d(this);
        if (failed_) return -1;
        if (at(Tok::minus)) {
            next();
            return unary(NodeKind::neg, signed_factor());
        }
        if (at(Tok::plus)) {
            next();
            return signed_factor();
        }
        return power();
    }

    int power() {
        int b = primary();
        if (b >= 0 && at(Tok::caret)) {
            next();
            b = binary(NodeKind::pow, b, exponent());
        }
        for (;;) {
            if (b < 0) return -1;
            if (at(Tok::bang)) {
                next();
                b = unary(NodeKind::factorial, b);
            } else if (at(Tok::percent) || at(Tok::degree)) {
                next();  // MATH convention: "28\%" is 28, "30^\circ" is 30
            } else {
                return b;
            }
        }
    }

    int exponent() {
        Depth d(this);
        if (at(Tok::lbrace)) return group(Tok::rbrace);
        if (at(Tok::minus)) {
            next();
            return unary(NodeKind::neg, exponent());
        }
        return primary();
    }

    // {...} or (...) content up to `close`.
    int group(Tok close) {
        next();
        int x = sum();
        return x >= 0 && expect(close) ? x : -1;
    }

    // An argument of \frac, \sqrt, \binom: a braced group or a single character ("\frac12").
    int argument() {
        if (at(Tok::lbrace)) return group(Tok::rbrace);
        Token& t = t_[p_];
        if (t.kind == Tok::number) {
            if (!is_digit(t.text[0])) return -1;
            std::string_view first = t.text.substr(0, 1);
            if (t.text.size() == 1)
                next();
            else
                t.text.remove_prefix(1);  // the rest stays as the next token
            return number(number_value(first), first);
        }
        if (t.kind == Tok::letter || t.kind == Tok::symbol) return primary();
        return -1;
    }

    // "_1", "_{12}", "_{n+1}": the subscript as text, for names.
    bool subscript(std::string* out) {
        next();  // '_'
        if (at(Tok::lbrace)) {
            next();
            int depth = 1;
            while (!at(Tok::end)) {
                if (at(Tok::lbrace)) ++depth;
                if (at(Tok::rbrace) && --depth == 0) break;
                out->append(peek().text);
                next();
            }
            return expect(Tok::rbrace);
        }
        Token& t = t_[p_];
        if (t.kind == Tok::number) {
            out->append(t.text.substr(0, 1));
            if (t.text.size() == 1)
                next();
            else
                t.text.remove_prefix(1);
            return true;
        }
        if (t.kind != Tok::letter && t.kind != Tok::symbol) return false;
        out->append(t.text);
        next();
        return true;
    }

    // 1010_2: digits in base 2..36 (decimal digits only); the literal is kept for comparing numerals.
    int base_number(const Token& t) {
        next();  // '_'
        bool braced = at(Tok::lbrace);
        if (braced) next();
        if (!at(Tok::number)) return -1;
        int base = 0;
        for (char c : peek().text) {
            if (!is_digit(c) || base > 36) return -1;
            base = base * 10 + (c - '0');
        }
        next();
        if ((braced && !expect(Tok::rbrace)) || base < 2 || base > 36) return -1;
        __int128 v = 0;
        for (char c : t.text) {
            if (!is_digit(c) || c - '0' >= base) return -1;
            if (__builtin_mul_overflow(v, static_cast<__int128>(base), &v) ||
                __builtin_add_overflow(v, c - '0', &v))
                return -1;
        }
        int id = number(Value::rational(Rational{v, 1}), t.text);
        if (id >= 0) e_->nodes[id].base = base;
        return id;
    }

    int function(const Token& f) {
        next();
        int exp = -1, base = -1;
        if (at(Tok::caret)) {  // \sin^2 x
            next();
            exp = exponent();
            if (exp < 0) return -1;
        }
        if (at(Tok::underscore)) {  // \log_2 8
            next();
            base = at(Tok::lbrace) ? group(Tok::rbrace) : primary();
            if (base < 0) return -1;
        }
        int arg = at(Tok::lparen) ? group(Tok::rparen) : at(Tok::lbrace) ? group(Tok::rbrace) : power();
        if (arg < 0) return -1;
        Node n;
        n.kind = NodeKind::func;
        n.func = f.func;
        n.a = arg;
        n.b = base;
        int id = add(n);
        return exp >= 0 ? binary(NodeKind::pow, id, exp) : id;
    }

    int bracket() {
        char open = at(Tok::lparen) ? '(' : '[';
        next();
        Frame items(this);
        if (!item_list(items)) return -1;
        if (!at(Tok::rparen) && !at(Tok::rbrack)) return -1;
        char close = at(Tok::rparen) ? ')' : ']';
        next();
        if (items.size() == 1) return (open == '(') == (close == ')') ? items[0] : -1;
        int id = nary(NodeKind::tuple, items.data(), items.size());
        if (id >= 0) e_->nodes[id].open = open, e_->nodes[id].close = close;
        return id;
    }

    int matrix() {
        next();
        Frame cells(this);
        int rows = 0, cols = -1, in_row = 0;
        for (;;) {
            if (at(Tok::end_matrix) && in_row == 0) break;
            cells.push(sum());
            if (cells.back() < 0) return -1;
            ++in_row;
            if (at(Tok::amp)) {
                next();
                continue;
            }
            if (cols >= 0 && in_row != cols) return -1;
            cols = in_row;
            in_row = 0;
            ++rows;
            if (at(Tok::rowsep)) {
                next();
                continue;
            }
            if (!at(Tok::end_matrix)) return -1;
        }
        next();
        if (rows == 0) return -1;
        int id = nary(NodeKind::matrix, cells.data(), cells.size());
        if (id >= 0) e_->nodes[id].rows = rows, e_->nodes[id].cols = cols;
        return id;
    }

    int primary() {
        Depth d(this);
        if (failed_) return -1;
        const Token t = peek();
        switch (t.kind) {
            case Tok::number:
                next();
                if (at(Tok::underscore)) return base_number(t);
                return number(number_value(t.text), t.text);
            case Tok::letter:
            case Tok::symbol: {
                next();
                std::string name(t.text);
                if (at(Tok::underscore)) {
                    name += '_';
                    if (!subscript(&name)) return -1;
                }
                return symbol(std::move(name));
            }
            case Tok::word:
                next();
                if (!t.in_text && t.text.size() == 2 && !short_word(t.text))  // "xy": a product
                    return nary(NodeKind::mul, {symbol(std::string(t.text.substr(0, 1))),
                                                symbol(std::string(t.text.substr(1, 1)))});
                return symbol(t.text.size() == 1 ? std::string(t.text) : lower(t.text));
            case Tok::func:
                return function(t);
            case Tok::frac: {
                next();
                int a = argument();
                return binary(NodeKind::div, a, a < 0 ? -1 : argument());
            }
            case Tok::sqrt: {
                next();
                int index = -1;
                if (at(Tok::lbrack)) {
                    index = group(Tok::rbrack);
                    if (index < 0) return -1;
                }
                Node n;
                n.kind = NodeKind::root;
                n.a = argument();
                n.b = index;
                return n.a < 0 ? -1 : add(n);
            }
            case Tok::binom: {
                next();
                int a = argument();
                return binary(NodeKind::binom, a, a < 0 ? -1 : argument());
            }
            case Tok::lparen:
            case Tok::lbrack:
                return bracket();
            case Tok::lbrace: {
                next();
                Frame items(this);
                if (!item_list(items) || !expect(Tok::rbrace)) return -1;
                if (items.size() == 1) return items[0];
                int id = nary(NodeKind::list, items.data(), items.size());
                if (id >= 0) e_->nodes[id].open = '{';  // "{1,3}": compared with a tuple in order
                return id;
            }
            case Tok::lset: {
                next();
                Frame items(this);
                if (!at(Tok::rset) && !item_list(items)) return -1;
                return expect(Tok::rset) ? nary(NodeKind::set, items.data(), items.size()) : -1;
            }
            case Tok::bar: {
                next();
                int a = sum();
                return a >= 0 && expect(Tok::bar) ? unary(NodeKind::abs, a) : -1;
            }
            case Tok::infinity:
                next();
                return leaf(NodeKind::infinity);
            case Tok::emptyset:
                next();
                return nary(NodeKind::set, {});
            case Tok::reals:
                next();
                return interval(infinity(true), infinity(false), false, false);
            case Tok::begin_matrix:
                return matrix();
            default:
                return -1;
        }
    }

    std::vector<Token> t_;
    size_t p_ = 0;
    std::vector<int> stack_;
    int depth_ = 0;
};

}  // namespace

bool parse_math_answer(std::string_view text, MathExpr* out) {
    *out = MathExpr{};
    out->source.assign(text);
    // Trailing punctuation ends sentences ("x = 5.", "\frac13,$"), and a trailing backslash is
    // stray ("7\\"): not part of the answer. An ellipsis is ("1, 2, 3, ..." is not 1, 2, 3).
    std::string& src = out->source;
    while (!src.empty() && (src.back() == ' ' || src.back() == '$')) src.pop_back();
    const bool ellipsis = src.size() >= 2 && src.compare(src.size() - 2, 2, "..") == 0;
    while (!src.empty() &&
           std::string_view(ellipsis ? " " : " .,;$\\\n").find(src.back()) != std::string_view::npos)
        src.pop_back();
    std::vector<Token> tokens;
    tokens.reserve(out->source.size() + 1);
    if (!lex_math(out->source, &tokens)) return false;
    out->nodes.reserve(2 * tokens.size());
    out->kids.reserve(tokens.size());
    out->numbers.reserve(tokens.size() / 2 + 1);
    return Parser(std::move(tokens), out).parse();
}

}  // namespace stride
