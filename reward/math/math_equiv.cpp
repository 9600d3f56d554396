#include "reward/math/math_equiv.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

namespace stride {

namespace {

constexpr int kMaxVars = 16;
constexpr int kPoints = 3;
constexpr int kAtZero = kPoints, kAtOne = kPoints + 1;  // extra points: every variable 0, every variable 1
constexpr size_t kMaxItems = 64;
// Comparisons per answer pair: unordered lists of lists could otherwise cost quadratic work
// twice over; past this the answers count as different.
constexpr int kMaxComparisons = 20000;

// Variables take positive rational values p/q with p, q distinct primes: never a perfect square
// (so sqrt(x) stays a surd, not a coincidental integer), distinct across variables at each point.
Rational point_value(int var, int point) {
    static const int kNum[16] = {11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71};
    static const int kDen[4] = {2, 3, 5, 7};
    return Rational{kNum[(3 * var + 5 * point) % 16], kDen[(var + 2 * point) % 4]};
}

double sec(double x) {
    return 1 / std::cos(x);
}
double csc(double x) {
    return 1 / std::sin(x);
}
double cot(double x) {
    return 1 / std::tan(x);
}

double (*function_of(MathFunc f))(double) {
    switch (f) {
        case MathFunc::sin:
            return [](double x) { return std::sin(x); };
        case MathFunc::cos:
            return [](double x) { return std::cos(x); };
        case MathFunc::tan:
            return [](double x) { return std::tan(x); };
        case MathFunc::sec:
            return sec;
        case MathFunc::csc:
            return csc;
        case MathFunc::cot:
            return cot;
        case MathFunc::asin:
            return [](double x) { return std::asin(x); };
        case MathFunc::acos:
            return [](double x) { return std::acos(x); };
        case MathFunc::atan:
            return [](double x) { return std::atan(x); };
        case MathFunc::sinh:
            return [](double x) { return std::sinh(x); };
        case MathFunc::cosh:
            return [](double x) { return std::cosh(x); };
        case MathFunc::tanh:
            return [](double x) { return std::tanh(x); };
        case MathFunc::ln:
            return [](double x) { return std::log(x); };
        case MathFunc::log:
            return [](double x) { return std::log10(x); };
        case MathFunc::exp:
            return [](double x) { return std::exp(x); };
    }
    return [](double) -> double { return NAN; };
}

// One side of the comparison: the parsed answer and where its variables sit in the shared table.
struct Side {
    const MathExpr* e;
    int map[kMaxVars];
    const Node& node(int id) const { return e->nodes[id]; }
    int kid(int id, int i) const { return e->kids[e->nodes[id].first + i]; }
};

struct Entry {
    int node;
    int sign;
};

class Comparer {
   public:
    Comparer(const MathExpr& pred, const MathExpr& gold) : a_{&pred, {}}, b_{&gold, {}} {
        std::vector<std::string_view> names;
        for (const auto* e : {&pred, &gold})
            for (const auto& s : e->symbols)
                if (std::find(names.begin(), names.end(), s) == names.end()) names.push_back(s);
        if (names.size() > kMaxVars) {
            ok_ = false;
            return;
        }
        std::sort(names.begin(), names.end());  // the same values whichever side a name comes from
        for (Side* side : {&a_, &b_})
            for (size_t i = 0; i < side->e->symbols.size(); ++i)
                side->map[i] = static_cast<int>(std::find(names.begin(), names.end(), side->e->symbols[i]) -
                                                names.begin());
        nvars_ = static_cast<int>(names.size());
        vars_.reserve((kPoints + 2) * nvars_);  // only answers with variables pay for the table
        for (int p = 0; p < kPoints; ++p)
            for (int v = 0; v < nvars_; ++v) vars_.push_back(Value::rational(point_value(v, p)));
        for (int value : {0, 1})  // kAtZero, kAtOne: for solving linear inequalities
            for (int v = 0; v < nvars_; ++v) vars_.push_back(Value::integer(value));
    }

    MathEquivalence run() {
        MathEquivalence r;
        if (!ok_) return r;
        r.equal = equal(a_, a_.e->root, 0, b_, b_.e->root, 0);
        r.how = symbolic_ ? "symbolic" : approx_ ? "numeric" : "exact";
        return r;
    }

   private:
    Value eval(const Side& s, int id, int point, int sign) {
        const Node& n = s.node(id);
        switch (n.kind) {
            case NodeKind::number:
                return s.e->numbers[n.index];
            case NodeKind::symbol:
                used_symbol_ = true;
                return vars_[point * nvars_ + s.map[n.index]];
            case NodeKind::neg:
                return value_neg(eval(s, n.a, point, sign));
            case NodeKind::add:
            case NodeKind::mul: {
                Value acc = eval(s, s.kid(id, 0), point, sign);
                for (int i = 1; i < n.count; ++i) {
                    Value x = eval(s, s.kid(id, i), point, sign);
                    acc = n.kind == NodeKind::add ? value_add(acc, x) : value_mul(acc, x);
                }
                return acc;
            }
            case NodeKind::div:
                return value_div(eval(s, n.a, point, sign), eval(s, n.b, point, sign));
            case NodeKind::pow:
                return value_pow(eval(s, n.a, point, sign), eval(s, n.b, point, sign));
            case NodeKind::root: {
                int index = 2;
                if (n.b >= 0) {
                    Value k = eval(s, n.b, point, sign);
                    if (!k.is_rational() || k.as_rational().den != 1 || k.as_rational().num < 1 ||
                        k.as_rational().num > 64)
                        return Value::undefined();
                    index = static_cast<int>(k.as_rational().num);
                }
                return value_root(eval(s, n.a, point, sign), index);
            }
            case NodeKind::func: {
                Value x = eval(s, n.a, point, sign);
                if (n.b >= 0) {  // log_b x = ln x / ln b
                    auto ln = function_of(MathFunc::ln);
                    return value_div(value_apply(ln, x), value_apply(ln, eval(s, n.b, point, sign)));
                }
                return value_apply(function_of(n.func), x);
            }
            case NodeKind::factorial:
                return value_factorial(eval(s, n.a, point, sign));
            case NodeKind::binom:
                return value_binomial(eval(s, n.a, point, sign), eval(s, n.b, point, sign));
            case NodeKind::abs:
                return value_abs(eval(s, n.a, point, sign));
            case NodeKind::plus_minus: {
                Value left = n.a >= 0 ? eval(s, n.a, point, sign) : Value::integer(0);
                Value right = eval(s, n.b, point, sign);
                return value_add(left, (sign < 0) == (n.sign > 0) ? value_neg(right) : right);
            }
            case NodeKind::infinity:
                return Value::infinity(false);
            default:
                return Value::undefined();  // a tuple, set... where a number is expected
        }
    }

    // "001,234.50" -> "1234.5": separators, leading and trailing zeros gone ("" for anything else,
    // such as 1e400 or a repeating decimal: those never compare equal this way).
    static std::string canonical_digits(const Side& s, const Node& n) {
        std::string out;
        for (char c : std::string_view(s.e->source).substr(n.digits_pos, n.digits_len)) {
            if ((c >= '0' && c <= '9') || c == '.')
                out += c;
            else if (c != ',' && c != '{' && c != '}' && c != '\\')
                return "";
        }
        if (out.find('.') != std::string::npos) {
            while (out.back() == '0') out.pop_back();
            if (out.back() == '.') out.pop_back();
        }
        size_t lead = out.find_first_not_of('0');
        return lead == std::string::npos ? "0" : out.substr(lead);
    }

    // A decimal literal, signed or not ("-0.0833333"), and not in a base or repeating.
    static bool is_decimal_literal(const Side& s, int id) {
        const Node* n = &s.node(id);
        if (n->kind == NodeKind::neg) n = &s.node(n->a);
        if (n->kind != NodeKind::number || n->base > 0) return false;
        std::string_view digits = std::string_view(s.e->source).substr(n->digits_pos, n->digits_len);
        return digits.find('.') != std::string_view::npos && digits.find('\\') == std::string_view::npos;
    }

    // One side a decimal the model wrote, the other a value with no finite decimal form, within the
    // decimal tolerance (reward/math/math_value.h); two decimals are compared exactly.
    static bool decimal_approximates(const Side& x, int xi, const Value& vx, const Side& y, int yi,
                                     const Value& vy) {
        const bool dx = is_decimal_literal(x, xi), dy = is_decimal_literal(y, yi);
        if (dx == dy) return false;
        return dx ? value_decimal_approximates(vx, vy) : value_decimal_approximates(vy, vx);
    }

    bool scalar_equal(const Side& x, int xi, int sx, const Side& y, int yi, int sy) {
        const Node &nx = x.node(xi), &ny = y.node(yi);
        // A numeral in a base against a bare numeral: "1010_2" answers "1010" (not "10").
        if (nx.kind == NodeKind::number && ny.kind == NodeKind::number && (nx.base > 0) != (ny.base > 0))
            return std::string_view(x.e->source).substr(nx.digits_pos, nx.digits_len) ==
                   std::string_view(y.e->source).substr(ny.digits_pos, ny.digits_len);
        // Literals too long for exact arithmetic: the digits decide, not a tolerance.
        if (nx.kind == NodeKind::number && ny.kind == NodeKind::number &&
            (!x.e->numbers[nx.index].is_exact() || !y.e->numbers[ny.index].is_exact()))
            return canonical_digits(x, nx) == canonical_digits(y, ny);
        int valid = 0;
        used_symbol_ = false;
        for (int p = 0; p < kPoints; ++p) {
            Value vx = eval(x, xi, p, sx), vy = eval(y, yi, p, sy);
            switch (value_compare(vx, vy)) {
                case ValueMatch::different:
                    if (!decimal_approximates(x, xi, vx, y, yi, vy)) return false;
                    approx_ = true;
                    ++valid;
                    break;
                case ValueMatch::equal_approx:
                    approx_ = true;
                    [[fallthrough]];
                case ValueMatch::equal_exact:
                    ++valid;
                    break;
                case ValueMatch::undecided:
                    break;  // outside one side's domain at this point
            }
            if (!used_symbol_) break;  // constants: one evaluation says it all
        }
        if (used_symbol_) symbolic_ = true;
        return valid > 0;
    }

    static bool is_equation(const Side& s, int id) {
        const Node& n = s.node(id);
        return n.kind == NodeKind::relation && n.op == Tok::eq && n.op2 == Tok::end && n.count == 2;
    }
    static bool is_variable(const Side& s, int id) { return s.node(id).kind == NodeKind::symbol; }
    // The left side of an answer given as "x = 3", "(x, y) = (1, 2)" or "f(x) = 2x + 1" (a product
    // of names, f^{-1}(x) included): only the right side counts.
    static bool names_answer(const Side& s, int id) {
        if (s.node(id).names) return true;
        const Node& n = s.node(id);
        if (n.kind != NodeKind::tuple && n.kind != NodeKind::mul) return false;
        for (int i = 0; i < n.count; ++i) {
            int k = s.kid(id, i);
            const Node& f = s.node(k);
            bool inverse =
                f.kind == NodeKind::pow && is_variable(s, f.a) && s.node(f.b).kind == NodeKind::neg;
            if (!is_variable(s, k) && !(n.kind == NodeKind::mul && inverse)) return false;
        }
        return true;
    }

    static bool same_text(const Side& x, int xi, const Side& y, int yi) {
        const Node &nx = x.node(xi), &ny = y.node(yi);
        if (nx.kind == NodeKind::symbol && ny.kind == NodeKind::symbol)
            return x.e->symbols[nx.index] == y.e->symbols[ny.index];
        if (nx.kind != NodeKind::tuple || ny.kind != NodeKind::tuple || nx.count != ny.count) return false;
        for (int i = 0; i < nx.count; ++i)
            if (!same_text(x, x.kid(xi, i), y, y.kid(yi, i))) return false;
        return true;
    }

    // Two equations: the same right sides under the same kind of left side (y = ...), or
    // lhs - rhs proportional at every point (x + y = 3 == y = 3 - x == 2x + 2y - 6 = 0).
    bool equations_equal(const Side& x, int xi, const Side& y, int yi) {
        int lx = x.kid(xi, 0), rx = x.kid(xi, 1), ly = y.kid(yi, 0), ry = y.kid(yi, 1);
        if (names_answer(x, lx) && names_answer(y, ly) && same_text(x, lx, y, ly))
            return equal(x, rx, 0, y, ry, 0);
        Value ratio;
        bool have_ratio = false;
        used_symbol_ = false;
        for (int p = 0; p < kPoints; ++p) {
            Value dx = value_add(eval(x, lx, p, 1), value_neg(eval(x, rx, p, 1)));
            Value dy = value_add(eval(y, ly, p, 1), value_neg(eval(y, ry, p, 1)));
            const Value zero = Value::integer(0);
            ValueMatch zx = value_compare(dx, zero), zy = value_compare(dy, zero);
            if (zx == ValueMatch::undecided || zy == ValueMatch::undecided) continue;
            if ((zx == ValueMatch::different) != (zy == ValueMatch::different)) return false;
            if (zx != ValueMatch::different) continue;  // both sides hold here
            Value r = value_div(dx, dy);
            if (!have_ratio) {
                ratio = r;
                have_ratio = true;
            } else if (ValueMatch m = value_compare(r, ratio); m == ValueMatch::different) {
                return false;
            } else if (m == ValueMatch::equal_approx) {
                approx_ = true;
            }
        }
        if (!used_symbol_)  // no variables: "2 = 2" and "3 = 3" are not the same answer
            return equal(x, lx, 0, y, ly, 0) && equal(x, rx, 0, y, ry, 0);
        symbolic_ = true;
        return have_ratio;
    }

    // As flatten splits them: a relation with a +- stays one item, so it is not unordered (calling it so
    // sent equal -> unordered_equal -> equal on the same node until the stack ran out; found by libFuzzer).
    static bool unordered(const Side& s, int id, int sign) {
        const Node& n = s.node(id);
        return n.kind == NodeKind::list || n.kind == NodeKind::set ||
               (n.has_pm && sign == 0 && n.kind != NodeKind::relation);
    }

    static void flatten(const Side& s, int id, int sign, std::vector<Entry>* out) {
        const Node& n = s.node(id);
        if (n.kind == NodeKind::list || n.kind == NodeKind::set) {
            for (int i = 0; i < n.count; ++i) {
                int k = s.kid(id, i);
                if (s.node(k).has_pm && s.node(k).kind != NodeKind::relation)
                    out->push_back({k, 1}), out->push_back({k, -1});
                else
                    out->push_back({k, 0});
            }
        } else if (n.has_pm && sign == 0 && n.kind != NodeKind::relation) {
            out->push_back({id, 1});
            out->push_back({id, -1});
        } else {
            out->push_back({id, sign});
        }
    }

    bool unordered_equal(const Side& x, int xi, int sx, const Side& y, int yi, int sy) {
        std::vector<Entry> ex, ey;
        flatten(x, xi, sx, &ex);
        flatten(y, yi, sy, &ey);
        if (ex.size() > kMaxItems || ey.size() > kMaxItems) return false;
        return covers(x, ex, y, ey) && covers(y, ey, x, ex);
    }

    // Every item of `from` equals some item of `to` (as sets: a repeated item counts once).
    bool covers(const Side& x, const std::vector<Entry>& from, const Side& y, const std::vector<Entry>& to) {
        for (const Entry& e : from) {
            bool found = false;
            for (size_t j = 0; j < to.size() && !found; ++j)
                found = &x == &a_ ? equal(x, e.node, e.sign, y, to[j].node, to[j].sign)
                                  : equal(y, to[j].node, to[j].sign, x, e.node, e.sign);
            if (!found) return false;
        }
        return true;
    }

    bool elementwise(const Side& x, int xi, int sx, const Side& y, int yi, int sy) {
        const Node &nx = x.node(xi), &ny = y.node(yi);
        if (nx.count != ny.count) return false;
        for (int i = 0; i < nx.count; ++i)
            if (!equal(x, x.kid(xi, i), sx, y, y.kid(yi, i), sy)) return false;
        return true;
    }

    static bool is_vector(const Node& n) {
        return n.kind == NodeKind::matrix && (n.rows == 1 || n.cols == 1);
    }
    static bool is_paren_tuple(const Node& n) {
        return n.kind == NodeKind::tuple && n.open == '(' && n.close == ')';
    }

    bool equal(const Side& x, int xi, int sx, const Side& y, int yi, int sy) {
        if (++comparisons_ > kMaxComparisons) return false;
        const bool eqx = is_equation(x, xi), eqy = is_equation(y, yi);
        if (eqx && eqy) return equations_equal(x, xi, y, yi);
        if (eqx)
            return labels_answer(x, x.kid(xi, 0)) && equal(x, x.kid(xi, 1), sx, y, yi, sy);  // x = 3 vs 3
        if (eqy) return labels_answer(y, y.kid(yi, 0)) && equal(x, xi, sx, y, y.kid(yi, 1), sy);
        const Node &nx = x.node(xi), &ny = y.node(yi);
        if ((is_plain_list(nx) && is_paren_tuple(ny)) || (is_paren_tuple(nx) && is_plain_list(ny)))
            return elementwise(x, xi, sx, y, yi, sy);  // "{1,3}" answers (1, 3), not (3, 1)
        if (unordered(x, xi, sx) || unordered(y, yi, sy)) return unordered_equal(x, xi, sx, y, yi, sy);
        if (is_inequality(nx) || is_inequality(ny)) {
            Interval ix, iy;
            if (as_interval(x, xi, &ix) && as_interval(y, yi, &iy)) return same_interval(ix, iy);
        }
        return same_shape_equal(x, xi, sx, y, yi, sy);
    }

    bool same_shape_equal(const Side& x, int xi, int sx, const Side& y, int yi, int sy) {
        const Node &nx = x.node(xi), &ny = y.node(yi);
        if (nx.kind == NodeKind::tuple && ny.kind == NodeKind::tuple)
            return nx.open == ny.open && nx.close == ny.close && elementwise(x, xi, sx, y, yi, sy);
        if (nx.kind == NodeKind::matrix && ny.kind == NodeKind::matrix)
            return nx.rows == ny.rows && nx.cols == ny.cols && elementwise(x, xi, sx, y, yi, sy);
        if ((is_vector(nx) && is_paren_tuple(ny)) || (is_paren_tuple(nx) && is_vector(ny)))
            return elementwise(x, xi, sx, y, yi, sy);
        if (nx.kind == NodeKind::relation && ny.kind == NodeKind::relation)
            return nx.op == ny.op && nx.op2 == ny.op2 && elementwise(x, xi, sx, y, yi, sy);
        auto scalar = [](const Node& n) {
            return n.kind != NodeKind::tuple && n.kind != NodeKind::matrix && n.kind != NodeKind::relation;
        };
        if (!scalar(nx) || !scalar(ny)) return false;
        return scalar_equal(x, xi, sx, y, yi, sy);
    }

    // The left side of an equation that only labels its right side: a name ("|AB| = 1"), or on the
    // response's side a constant ("\frac12 = \frac{10}{9}" worked to its end). A label's constant
    // left side is a claim of its own ("7 = 11a + c" does not answer 11a + c).
    bool labels_answer(const Side& s, int id) const {
        return names_answer(s, id) || (&s == &a_ && !has_symbol(s, id));
    }
    static bool has_symbol(const Side& s, int id) {
        const Node& n = s.node(id);
        if (n.kind == NodeKind::symbol) return true;
        if ((n.a >= 0 && has_symbol(s, n.a)) || (n.b >= 0 && has_symbol(s, n.b))) return true;
        for (int i = 0; i < n.count; ++i)
            if (has_symbol(s, s.kid(id, i))) return true;
        return false;
    }
    // "{1,3}" (a LaTeX group, not \{1,3\}): Math-Verify reads it as the tuple (1, 3), not a set.
    static bool is_plain_list(const Node& n) {
        return n.kind == NodeKind::list && n.open == '{' && !n.has_pm;
    }

    // ---- inequalities as intervals ----------------------------------------------------------------

    struct Interval {
        Value lo, hi;
        bool lo_closed = false, hi_closed = false;
    };

    static bool is_inequality(const Node& n) {
        auto ineq = [](Tok t) { return t == Tok::lt || t == Tok::le || t == Tok::gt || t == Tok::ge; };
        return n.kind == NodeKind::relation && n.count == 2 && ineq(n.op);
    }

    // (a, b], [a, b]... with constant ends, or an inequality linear in one variable ("-x > -1" is
    // (-inf, 1), "2x - 6 >= 0" is [3, inf)).
    bool as_interval(const Side& s, int id, Interval* out) {
        const Node& n = s.node(id);
        if (n.kind == NodeKind::tuple && n.count == 2 && n.open != ':') {
            used_symbol_ = false;
            out->lo = eval(s, s.kid(id, 0), 0, 1);
            out->hi = eval(s, s.kid(id, 1), 0, 1);
            out->lo_closed = n.open == '[';
            out->hi_closed = n.close == ']';
            return !used_symbol_;
        }
        return is_inequality(n) && solve_linear(s, id, out);
    }

    bool solve_linear(const Side& s, int id, Interval* out) {
        const Node& n = s.node(id);
        int var = -1;
        if (!one_variable(s, id, &var) || var < 0) return false;
        auto f = [&](int point) {
            return value_add(eval(s, s.kid(id, 0), point, 1), value_neg(eval(s, s.kid(id, 1), point, 1)));
        };
        const Value f0 = f(kAtZero), slope = value_add(f(kAtOne), value_neg(f0));
        if (!slope.is_exact() || slope.s.n == 0) return false;
        for (int p = 0; p < 2; ++p) {  // linear: f(v) = f(0) + slope v at two more points
            const Value line = value_add(f0, value_mul(slope, vars_[p * nvars_ + var]));
            if (value_compare(line, f(p)) != ValueMatch::equal_exact) return false;
        }
        const Value root = value_neg(value_div(f0, slope));
        const bool below = (n.op == Tok::lt || n.op == Tok::le) == (slope.x > 0);  // x below the root
        const bool closed = n.op == Tok::le || n.op == Tok::ge;
        out->lo = below ? Value::infinity(true) : root;
        out->hi = below ? root : Value::infinity(false);
        out->lo_closed = !below && closed;
        out->hi_closed = below && closed;
        return true;
    }

    // No two variables below `id`; *var: the one found (its index in a point's row of vars_), or -1.
    static bool one_variable(const Side& s, int id, int* var) {
        const Node& n = s.node(id);
        if (n.kind == NodeKind::symbol) {
            if (*var >= 0 && *var != s.map[n.index]) return false;
            *var = s.map[n.index];
            return true;
        }
        if ((n.a >= 0 && !one_variable(s, n.a, var)) || (n.b >= 0 && !one_variable(s, n.b, var)))
            return false;
        for (int i = 0; i < n.count; ++i)
            if (!one_variable(s, s.kid(id, i), var)) return false;
        return true;
    }

    static bool same_interval(const Interval& a, const Interval& b) {
        auto same = [](const Value& u, const Value& v) {
            ValueMatch m = value_compare(u, v);
            return m == ValueMatch::equal_exact || m == ValueMatch::equal_approx;
        };
        return a.lo_closed == b.lo_closed && a.hi_closed == b.hi_closed && same(a.lo, b.lo) &&
               same(a.hi, b.hi);
    }

    Side a_, b_;
    bool ok_ = true;
    int nvars_ = 0;
    std::vector<Value> vars_;  // [point][variable]
    bool used_symbol_ = false, symbolic_ = false, approx_ = false;
    int comparisons_ = 0;
};

}  // namespace

MathEquivalence math_equivalent(const MathExpr& pred, const MathExpr& gold) {
    return Comparer(pred, gold).run();
}

}  // namespace stride
