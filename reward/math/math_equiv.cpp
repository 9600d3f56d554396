#include "reward/math/math_equiv.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

namespace stride {

namespace {

constexpr int kMaxVars = 16;
constexpr int kPoints = 3;
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
        vars_.reserve(kPoints * nvars_);  // only answers with variables pay for the table
        for (int p = 0; p < kPoints; ++p)
            for (int v = 0; v < nvars_; ++v) vars_.push_back(Value::rational(point_value(v, p)));
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
                    return false;
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
        if (is_variable(s, id)) return true;
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

    static bool unordered(const Side& s, int id, int sign) {
        const Node& n = s.node(id);
        return n.kind == NodeKind::list || n.kind == NodeKind::set || (n.has_pm && sign == 0);
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
        if (ex.size() != ey.size() || ex.size() > kMaxItems) return false;
        uint64_t used = 0;
        for (const Entry& e : ex) {
            bool found = false;
            for (size_t j = 0; j < ey.size() && !found; ++j) {
                if (used >> j & 1) continue;
                if (equal(x, e.node, e.sign, y, ey[j].node, ey[j].sign)) {
                    used |= uint64_t{1} << j;
                    found = true;
                }
            }
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
        if (eqx) return names_answer(x, x.kid(xi, 0)) && equal(x, x.kid(xi, 1), sx, y, yi, sy);  // x = 3 vs 3
        if (eqy) return names_answer(y, y.kid(yi, 0)) && equal(x, xi, sx, y, y.kid(yi, 1), sy);
        if (unordered(x, xi, sx) || unordered(y, yi, sy)) return unordered_equal(x, xi, sx, y, yi, sy);
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
