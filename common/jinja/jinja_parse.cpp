// Pieces (jinja_lex.h) -> Program: a recursive-descent parser with Jinja's precedences. Anything
// outside the subset is refused here, naming the construct.
#include <set>

#include "common/base/error.h"
#include "common/jinja/jinja_ast.h"
#include "common/jinja/jinja_lex.h"

namespace stride::jinja {

std::string where(Pos p) {
    return "line " + std::to_string(p.line) + ", column " + std::to_string(p.col);
}

namespace {

// Parses the pieces into statements.
class Parser {
   public:
    Parser(std::vector<Piece> pieces, const std::string& name, const Limits& limits)
        : pieces_(std::move(pieces)), name_(name), limits_(limits) {
        // Macros may be called before (in the text) the statement that defines them runs; collect names.
        for (const Piece& p : pieces_)
            if (!p.is_text && p.tag.statement && p.tag.toks.size() > 1 && p.tag.toks[0].text == "macro")
                macros_.insert(p.tag.toks[1].text);
    }

    std::shared_ptr<Program> run() {
        auto prog = std::make_shared<Program>();
        std::string end = parse_body(prog->body, {}, 0);
        (void)end;
        return prog;
    }

   private:
    std::vector<Piece> pieces_;
    size_t at_ = 0;
    const std::string& name_;
    const Limits& limits_;
    std::set<std::string> macros_;
    // Within the current tag:
    const Tag* tag_ = nullptr;
    size_t tok_ = 0;
    int depth_ = 0;
    int loops_ = 0;  // for loops open around the statement being parsed

    [[noreturn]] void fail(Pos p, const std::string& msg) const {
        throw Error(name_ + ": " + where(p) + ": " + msg);
    }

    Tok end_{T::end, "", {}};

    const Tok& cur() {
        if (tok_ < tag_->toks.size()) return tag_->toks[tok_];
        end_.pos = tag_->toks.empty() ? tag_->pos : tag_->toks.back().pos;
        return end_;
    }
    bool is_op(const char* op) { return cur().type == T::op && cur().text == op; }
    bool is_name(const char* n) { return cur().type == T::name && cur().text == n; }
    Tok take() { return tag_->toks[tok_++]; }
    void expect_op(const char* op) {
        if (!is_op(op)) fail(cur().pos, std::string("expected '") + op + "', found " + describe(cur()));
        ++tok_;
    }
    std::string expect_name(const char* what) {
        if (cur().type != T::name)
            fail(cur().pos, std::string("expected ") + what + ", found " + describe(cur()));
        return take().text;
    }
    static std::string describe(const Tok& t) {
        switch (t.type) {
            case T::end:
                return "the end of the tag";
            case T::string:
                return "a string";
            case T::integer:
            case T::floating:
                return "number " + t.text;
            default:
                return "'" + t.text + "'";
        }
    }
    void expect_end() {
        if (cur().type != T::end)
            fail(cur().pos, "unexpected " + describe(cur()) + " (expected the end of the tag)");
    }

    struct DepthGuard {
        Parser& p;
        DepthGuard(Parser& parser, Pos pos) : p(parser) {
            if (++p.depth_ > p.limits_.max_depth)
                p.fail(pos, "nesting deeper than " + std::to_string(p.limits_.max_depth) + " levels");
        }
        ~DepthGuard() { --p.depth_; }
    };

    // Statements until a tag whose first word is in `ends`; returns that word ("" at the end of input).
    std::string parse_body(Body& body, const std::set<std::string>& ends, int nesting) {
        while (at_ < pieces_.size()) {
            const Piece& piece = pieces_[at_];
            if (piece.is_text) {
                auto s = std::make_unique<Stmt>();
                s->kind = SK::text;
                s->text = piece.text;
                body.push_back(std::move(s));
                ++at_;
                continue;
            }
            tag_ = &piece.tag;
            tok_ = 0;
            if (!piece.tag.statement) {
                ++at_;
                auto s = std::make_unique<Stmt>();
                s->kind = SK::output;
                s->pos = piece.tag.pos;
                s->expr = parse_tuple_or_expr();
                expect_end();
                body.push_back(std::move(s));
                continue;
            }
            if (cur().type != T::name) fail(piece.tag.pos, "a statement tag without a statement name");
            std::string word = cur().text;
            if (ends.count(word)) return word;
            if (word == "else" || word == "elif" || word.starts_with("end"))
                fail(piece.tag.pos, "unexpected '" + word + "' (nothing open that it could close)");
            ++at_;
            ++tok_;
            if (word == "generation" || word == "endgeneration") {  // transformers' assistant-mask markers
                expect_end();
                continue;
            }
            if (nesting >= limits_.max_depth)
                fail(piece.tag.pos,
                     "statements nested deeper than " + std::to_string(limits_.max_depth) + " levels");
            body.push_back(parse_statement(word, piece.tag.pos, nesting));
        }
        if (!ends.empty()) {
            std::string list;
            for (const auto& e : ends) list += (list.empty() ? "" : " or ") + e;
            throw Error(name_ + ": the template ends before " + list);
        }
        return "";
    }

    // After parse_body returned `word`: consume that tag, which must be only that word.
    void close_tag(const char* /*word*/) {
        ++at_;
        ++tok_;
        expect_end();
    }

    std::unique_ptr<Stmt> parse_statement(const std::string& word, Pos pos, int nesting) {
        auto s = std::make_unique<Stmt>();
        s->pos = pos;
        if (word == "if" || word == "elif") {
            s->kind = SK::if_;
            s->expr = parse_expr();
            expect_end();
            std::string end = parse_body(s->body, {"elif", "else", "endif"}, nesting + 1);
            if (end == "elif") {
                const Tag* t = &pieces_[at_].tag;
                ++at_;
                tag_ = t;
                tok_ = 1;
                s->else_body.push_back(parse_statement("elif", t->pos, nesting));
                return s;  // the elif's own chain consumed the endif
            }
            if (end == "else") {
                close_tag("else");
                parse_body(s->else_body, {"endif"}, nesting + 1);
            }
            close_tag("endif");
            return s;
        }
        if (word == "for") {
            s->kind = SK::for_;
            bool paren = is_op("(");
            if (paren) ++tok_;
            s->targets.push_back(expect_name("a loop variable"));
            while (is_op(",")) {
                ++tok_;
                s->targets.push_back(expect_name("a loop variable"));
            }
            if (paren) expect_op(")");
            if (!is_name("in")) fail(cur().pos, "expected 'in' in a for statement, found " + describe(cur()));
            ++tok_;
            s->expr = parse_or();  // not a ternary: a following `if` filters the loop
            if (is_name("if")) {
                ++tok_;
                s->cond = parse_expr();
            }
            if (is_name("recursive"))
                fail(cur().pos, "'for ... recursive' is not supported (Stride's Jinja subset)");
            expect_end();
            ++loops_;
            std::string end = parse_body(s->body, {"else", "endfor"}, nesting + 1);
            --loops_;
            if (end == "else") {
                close_tag("else");
                parse_body(s->else_body, {"endfor"}, nesting + 1);
            }
            close_tag("endfor");
            return s;
        }
        if (word == "set") {
            std::string first = expect_name("a variable name after 'set'");
            if (is_op(".")) {
                ++tok_;
                s->kind = SK::set;
                auto ns = std::make_unique<Expr>();
                ns->kind = EK::name;
                ns->pos = pos;
                ns->name = first;
                s->attr_of = std::move(ns);
                s->targets.push_back(expect_name("an attribute name"));
                expect_op("=");
                s->expr = parse_tuple_or_expr();
                expect_end();
                return s;
            }
            s->targets.push_back(first);
            while (is_op(",")) {
                ++tok_;
                s->targets.push_back(expect_name("a variable name"));
            }
            if (cur().type == T::end) {
                if (s->targets.size() != 1) fail(pos, "a block set assigns one variable");
                s->kind = SK::set_block;
                parse_body(s->body, {"endset"}, nesting + 1);
                close_tag("endset");
                return s;
            }
            if (is_op("|"))
                fail(cur().pos,
                     "filtered block set ('set x | filter') is not supported (Stride's Jinja subset)");
            s->kind = SK::set;
            expect_op("=");
            s->expr = parse_tuple_or_expr();
            expect_end();
            return s;
        }
        if (word == "macro") {
            s->kind = SK::macro;
            s->name = expect_name("a macro name");
            expect_op("(");
            while (!is_op(")")) {
                s->params.push_back(expect_name("a parameter name"));
                if (is_op("=")) {
                    ++tok_;
                    s->defaults.push_back(parse_expr());
                } else {
                    s->defaults.push_back(nullptr);
                }
                if (!is_op(",")) break;
                ++tok_;
            }
            expect_op(")");
            expect_end();
            const int outer_loops = loops_;
            loops_ = 0;  // a macro's body is not inside the loops around its definition
            parse_body(s->body, {"endmacro"}, nesting + 1);
            loops_ = outer_loops;
            close_tag("endmacro");
            return s;
        }
        if (word == "break" || word == "continue") {
            if (loops_ == 0) fail(pos, "'" + word + "' outside a for loop");
            s->kind = word == "break" ? SK::break_ : SK::continue_;
            expect_end();
            return s;
        }
        static const std::set<std::string> known_elsewhere = {"include", "import",     "from",   "extends",
                                                              "block",   "call",       "filter", "raw",
                                                              "with",    "autoescape", "do",     "trans"};
        if (known_elsewhere.count(word))
            fail(pos, "statement '" + word +
                          "' is not supported (Stride's Jinja subset: if, for, set, macro, break, continue)");
        fail(pos, "unknown statement '" + word +
                      "' (Stride's Jinja subset: if, for, set, macro, break, continue)");
    }

    // A compound node is complete: its depth is its children's + 1, within Limits::max_tree_depth (deep
    // trees would exhaust the stack when evaluated or freed).
    ExprP finish(ExprP e) {
        int d = 0;
        for (const auto& a : e->args)
            if (a) d = std::max(d, a->depth);
        for (const auto& a : e->kwargs) d = std::max(d, a->depth);
        e->depth = d + 1;
        if (e->depth > limits_.max_tree_depth)
            fail(e->pos, "an expression nested deeper than " + std::to_string(limits_.max_tree_depth) +
                             " levels (Limits::max_tree_depth)");
        return e;
    }

    ExprP make(EK kind, Pos pos) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->pos = pos;
        return e;
    }

    // expr, or `a, b` (a tuple without parentheses).
    ExprP parse_tuple_or_expr() {
        Pos pos = cur().pos;
        ExprP first = parse_expr();
        if (!is_op(",")) return first;
        ExprP t = make(EK::tuple, pos);
        t->args.push_back(std::move(first));
        while (is_op(",")) {
            ++tok_;
            if (cur().type == T::end) break;
            t->args.push_back(parse_expr());
        }
        return finish(std::move(t));
    }

    ExprP parse_expr() {
        DepthGuard guard(*this, cur().pos);
        Pos pos = cur().pos;
        ExprP value = parse_or();
        if (!is_name("if")) return value;
        ++tok_;
        ExprP t = make(EK::ternary, pos);
        t->args.push_back(std::move(value));
        t->args.push_back(parse_or());
        if (is_name("else")) {
            ++tok_;
            t->args.push_back(parse_expr());
        } else {
            t->args.push_back(nullptr);
        }
        return finish(std::move(t));
    }

    ExprP binary(const std::string& op, ExprP l, ExprP r, Pos pos) {
        ExprP b = make(EK::binary, pos);
        b->name = op;
        b->args.push_back(std::move(l));
        b->args.push_back(std::move(r));
        return finish(std::move(b));
    }

    ExprP parse_or() {
        ExprP l = parse_and();
        while (is_name("or")) {
            Pos p = take().pos;
            l = binary("or", std::move(l), parse_and(), p);
        }
        return l;
    }
    ExprP parse_and() {
        ExprP l = parse_not();
        while (is_name("and")) {
            Pos p = take().pos;
            l = binary("and", std::move(l), parse_not(), p);
        }
        return l;
    }
    ExprP parse_not() {
        if (is_name("not")) {
            DepthGuard guard(*this, cur().pos);
            ExprP u = make(EK::unary, take().pos);
            u->name = "not";
            u->args.push_back(parse_not());
            return finish(std::move(u));
        }
        return parse_compare();
    }
    ExprP parse_compare() {
        Pos pos = cur().pos;
        ExprP first = parse_concat();
        ExprP c;
        while (true) {
            std::string op;
            if (cur().type == T::op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                        cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
                op = take().text;
            } else if (is_name("in")) {
                ++tok_;
                op = "in";
            } else if (is_name("not") && tok_ + 1 < tag_->toks.size() &&
                       tag_->toks[tok_ + 1].type == T::name && tag_->toks[tok_ + 1].text == "in") {
                tok_ += 2;
                op = "not in";
            } else {
                break;
            }
            if (!c) {
                c = make(EK::compare, pos);
                c->args.push_back(std::move(first));
            }
            c->ops.push_back(op);
            c->args.push_back(parse_concat());
        }
        return c ? finish(std::move(c)) : std::move(first);
    }
    ExprP parse_concat() {
        ExprP l = parse_math1();
        while (is_op("~")) {
            Pos p = take().pos;
            l = binary("~", std::move(l), parse_math1(), p);
        }
        return l;
    }
    ExprP parse_math1() {
        ExprP l = parse_math2();
        while (is_op("+") || is_op("-")) {
            Tok t = take();
            l = binary(t.text, std::move(l), parse_math2(), t.pos);
        }
        return l;
    }
    ExprP parse_math2() {
        ExprP l = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            Tok t = take();
            l = binary(t.text, std::move(l), parse_pow(), t.pos);
        }
        return l;
    }
    ExprP parse_pow() {
        ExprP l = parse_unary(true);
        while (is_op("**")) {
            Tok t = take();
            l = binary("**", std::move(l), parse_unary(true), t.pos);
        }
        return l;
    }
    ExprP parse_unary(bool with_filter) {
        DepthGuard guard(*this, cur().pos);
        ExprP node;
        if (is_op("-") || is_op("+")) {
            Tok t = take();
            node = make(EK::unary, t.pos);
            node->name = t.text;
            node->args.push_back(parse_unary(false));
            node = finish(std::move(node));
        } else {
            node = parse_primary();
        }
        node = parse_postfix(std::move(node));
        if (with_filter) node = parse_filter_expr(std::move(node));
        return node;
    }

    void parse_call_args(Expr& e) {
        expect_op("(");
        while (!is_op(")")) {
            if (is_op("*") || is_op("**"))
                fail(cur().pos, "argument unpacking (* / **) is not supported (Stride's Jinja subset)");
            if (cur().type == T::name && tok_ + 1 < tag_->toks.size() && tag_->toks[tok_ + 1].type == T::op &&
                tag_->toks[tok_ + 1].text == "=") {
                e.kwnames.push_back(take().text);
                ++tok_;
                e.kwargs.push_back(parse_expr());
            } else {
                if (!e.kwnames.empty()) fail(cur().pos, "a positional argument after a keyword argument");
                e.args.push_back(parse_expr());
            }
            if (!is_op(",")) break;
            ++tok_;
        }
        expect_op(")");
    }

    ExprP parse_postfix(ExprP node) {
        while (true) {
            if (is_op(".")) {
                Pos p = take().pos;
                std::string attr;
                if (cur().type == T::integer) {  // messages.0
                    ExprP idx = make(EK::literal, cur().pos);
                    idx->value = Value::integer(take().i);
                    ExprP it = make(EK::item, p);
                    it->args.push_back(std::move(node));
                    it->args.push_back(std::move(idx));
                    node = finish(std::move(it));
                    continue;
                }
                attr = expect_name("an attribute name after '.'");
                if (is_op("(")) {
                    if (!known_method(attr))
                        fail(p, "method '." + attr + "()' is not supported (Stride's Jinja subset)");
                    ExprP m = make(EK::method, p);
                    m->name = attr;
                    m->args.push_back(std::move(node));
                    parse_call_args(*m);
                    node = finish(std::move(m));
                    continue;
                }
                ExprP a = make(EK::attr, p);
                a->name = attr;
                a->args.push_back(std::move(node));
                node = finish(std::move(a));
            } else if (is_op("[")) {
                Pos p = take().pos;
                ExprP parts[3];
                bool is_slice = false;
                int k = 0;
                while (true) {
                    if (!is_op(":") && !is_op("]")) parts[k] = parse_expr();
                    if (is_op(":") && k < 2) {
                        ++tok_;
                        is_slice = true;
                        ++k;
                        continue;
                    }
                    break;
                }
                expect_op("]");
                if (is_slice) {
                    ExprP s = make(EK::slice, p);
                    s->args.push_back(std::move(node));
                    for (auto& part : parts) s->args.push_back(std::move(part));
                    node = finish(std::move(s));
                } else {
                    if (!parts[0]) fail(p, "an empty subscript '[]'");
                    ExprP it = make(EK::item, p);
                    it->args.push_back(std::move(node));
                    it->args.push_back(std::move(parts[0]));
                    node = finish(std::move(it));
                }
            } else if (is_op("(")) {
                Pos p = cur().pos;
                if (node->kind != EK::name)
                    fail(p, "calling the result of an expression is not supported (Stride's Jinja subset)");
                if (!known_function(node->name) && !macros_.count(node->name))
                    fail(node->pos, "function '" + node->name +
                                        "()' is not supported (Stride's Jinja subset: "
                                        "raise_exception, range, namespace, strftime_now, dict and the "
                                        "template's macros)");
                ExprP c = make(EK::call, node->pos);
                c->name = node->name;
                parse_call_args(*c);
                node = finish(std::move(c));
            } else {
                return node;
            }
        }
    }

    ExprP parse_filter_expr(ExprP node) {
        while (true) {
            if (is_op("|")) {
                ++tok_;
                Pos p = cur().pos;
                std::string f = expect_name("a filter name after '|'");
                if (!known_filter(f)) fail(p, "filter '" + f + "' is not supported (Stride's Jinja subset)");
                ExprP e = make(EK::filter, p);
                e->name = f;
                e->args.push_back(std::move(node));
                if (is_op("(")) parse_call_args(*e);
                node = finish(std::move(e));
            } else if (is_name("is")) {
                ++tok_;
                ExprP e = make(EK::test, cur().pos);
                if (is_name("not")) {
                    ++tok_;
                    e->negated = true;
                }
                Pos p = cur().pos;
                std::string t = expect_name("a test name after 'is'");
                if (!known_test(t)) fail(p, "test '" + t + "' is not supported (Stride's Jinja subset)");
                e->name = t;
                e->args.push_back(std::move(node));
                if (is_op("(")) {
                    parse_call_args(*e);
                } else if ((cur().type == T::name || cur().type == T::string || cur().type == T::integer ||
                            cur().type == T::floating || is_op("(") || is_op("[") || is_op("{")) &&
                           !is_name("else") && !is_name("or") && !is_name("and")) {
                    if (is_name("is")) fail(cur().pos, "'is' cannot follow a test");
                    e->args.push_back(parse_postfix(parse_primary()));
                }
                node = finish(std::move(e));
            } else {
                return node;
            }
        }
    }

    ExprP parse_primary() {
        DepthGuard guard(*this, cur().pos);
        const Tok& t = cur();
        Pos p = t.pos;
        switch (t.type) {
            case T::name: {
                std::string n = take().text;
                ExprP e = make(EK::literal, p);
                if (n == "true" || n == "True") {
                    e->value = Value::boolean(true);
                } else if (n == "false" || n == "False") {
                    e->value = Value::boolean(false);
                } else if (n == "none" || n == "None") {
                    e->value = Value::none();
                } else {
                    e->kind = EK::name;
                    e->name = n;
                }
                return e;
            }
            case T::string: {
                std::string s = take().text;
                while (cur().type == T::string) s += take().text;  // adjacent literals concatenate
                ExprP e = make(EK::literal, p);
                e->value = Value::string(std::move(s));
                return e;
            }
            case T::integer: {
                ExprP e = make(EK::literal, p);
                e->value = Value::integer(take().i);
                return e;
            }
            case T::floating: {
                ExprP e = make(EK::literal, p);
                e->value = Value::floating(take().f);
                return e;
            }
            case T::op: {
                if (t.text == "(") {
                    ++tok_;
                    if (is_op(")")) {
                        ++tok_;
                        return make(EK::tuple, p);
                    }
                    ExprP first = parse_expr();
                    if (is_op(")")) {
                        ++tok_;
                        return first;
                    }
                    ExprP tup = make(EK::tuple, p);
                    tup->args.push_back(std::move(first));
                    while (is_op(",")) {
                        ++tok_;
                        if (is_op(")")) break;
                        tup->args.push_back(parse_expr());
                    }
                    expect_op(")");
                    return finish(std::move(tup));
                }
                if (t.text == "[") {
                    ++tok_;
                    ExprP list = make(EK::list, p);
                    while (!is_op("]")) {
                        list->args.push_back(parse_expr());
                        if (!is_op(",")) break;
                        ++tok_;
                    }
                    expect_op("]");
                    return finish(std::move(list));
                }
                if (t.text == "{") {
                    ++tok_;
                    ExprP dict = make(EK::dict, p);
                    while (!is_op("}")) {
                        dict->args.push_back(parse_expr());
                        expect_op(":");
                        dict->args.push_back(parse_expr());
                        if (!is_op(",")) break;
                        ++tok_;
                    }
                    expect_op("}");
                    return finish(std::move(dict));
                }
                break;
            }
            default:
                break;
        }
        fail(p, "unexpected " + describe(t) + " (expected an expression)");
    }
};

}  // namespace

std::shared_ptr<const Program> parse_program(std::string_view source, const std::string& name,
                                             const Limits& limits) {
    // Python Jinja's default: one trailing newline of the source is dropped.
    if (source.ends_with('\n')) source.remove_suffix(1);
    Parser parser(lex_template(source, name), name, limits);
    return parser.run();
}

}  // namespace stride::jinja
