#include "reward/math/math_value.h"

#include <cmath>

namespace stride {

namespace {

using i128 = __int128;

constexpr int kMaxIntegerExponent = 256;  // beyond: approximate (and 2^257 overflows anyway)
constexpr int kMaxRootIndex = 64;

uint64_t gcd64(uint64_t a, uint64_t b) {
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

// Inserts coef*sqrt(rad), merging with a term of the same radicand; false past kMaxTerms.
bool add_term(Surd& s, uint64_t rad, const Rational& coef) {
    if (coef.num == 0) return true;
    int i = 0;
    while (i < s.n && s.rad[i] < rad) ++i;
    if (i < s.n && s.rad[i] == rad) {
        Rational sum;
        if (!rational_add(s.coef[i], coef, &sum)) return false;
        if (sum.num != 0) {
            s.coef[i] = sum;
            return true;
        }
        for (int j = i; j + 1 < s.n; ++j) s.rad[j] = s.rad[j + 1], s.coef[j] = s.coef[j + 1];
        --s.n;
        return true;
    }
    if (s.n == Surd::kMaxTerms) return false;
    for (int j = s.n; j > i; --j) s.rad[j] = s.rad[j - 1], s.coef[j] = s.coef[j - 1];
    s.rad[i] = rad;
    s.coef[i] = coef;
    ++s.n;
    return true;
}

bool surd_add(const Surd& a, const Surd& b, Surd* out) {
    Surd r = a;
    for (int i = 0; i < b.n; ++i)
        if (!add_term(r, b.rad[i], b.coef[i])) return false;
    *out = r;
    return true;
}

// sqrt(a)*sqrt(b) = g*sqrt(a/g * b/g) with g = gcd(a, b); the product stays squarefree.
bool surd_mul(const Surd& a, const Surd& b, Surd* out) {
    Surd r;
    for (int i = 0; i < a.n; ++i) {
        for (int j = 0; j < b.n; ++j) {
            uint64_t g = gcd64(a.rad[i], b.rad[j]), rad;
            if (__builtin_mul_overflow(a.rad[i] / g, b.rad[j] / g, &rad)) return false;
            Rational c;
            if (!rational_mul(a.coef[i], b.coef[j], &c) ||
                !rational_mul(c, Rational{static_cast<i128>(g), 1}, &c))
                return false;
            if (!add_term(r, rad, c)) return false;
        }
    }
    *out = r;
    return true;
}

bool surd_scale(const Surd& a, const Rational& q, Surd* out) {
    Surd r = a;
    for (int i = 0; i < r.n; ++i)
        if (!rational_mul(a.coef[i], q, &r.coef[i])) return false;
    *out = r;
    return true;
}

// a / b for b != 0 with one or two terms: rationalise the denominator with its conjugate.
bool surd_div(const Surd& a, const Surd& b, Surd* out) {
    if (b.n == 1) {  // x / (c*sqrt(r)) = x * sqrt(r) / (c*r)
        Surd inv;
        inv.n = 1;
        inv.rad[0] = b.rad[0];
        Rational cr;
        if (!rational_mul(b.coef[0], Rational{static_cast<i128>(b.rad[0]), 1}, &cr) ||
            !rational_div(Rational{1, 1}, cr, &inv.coef[0]))
            return false;
        return surd_mul(a, inv, out);
    }
    if (b.n == 2) {  // (p*sqrt(m) + q*sqrt(n)) * (p*sqrt(m) - q*sqrt(n)) = p^2 m - q^2 n, rational
        Surd conj = b, norm, num;
        conj.coef[1].num = -conj.coef[1].num;
        if (!surd_mul(b, conj, &norm) || norm.n != 1 || norm.rad[0] != 1) return false;
        if (!surd_mul(a, conj, &num)) return false;
        Rational inv;
        if (!rational_div(Rational{1, 1}, norm.coef[0], &inv)) return false;
        return surd_scale(num, inv, out);
    }
    return false;
}

bool surd_equal(const Surd& a, const Surd& b) {
    if (a.n != b.n) return false;
    for (int i = 0; i < a.n; ++i)
        if (a.rad[i] != b.rad[i] || !(a.coef[i] == b.coef[i])) return false;
    return true;
}

Value exact(const Surd& s, double x) {
    Value v;
    v.kind = Value::Kind::exact;
    v.s = s;
    v.x = x;
    return v;
}

bool is_zero(const Value& v) {
    return v.kind == Value::Kind::exact ? v.s.n == 0 : (v.kind == Value::Kind::approx && v.x == 0.0);
}

uint64_t isqrt64(uint64_t n) {
    uint64_t r = static_cast<uint64_t>(std::sqrt(static_cast<long double>(n)));
    while (r > 0 && r * r > n) --r;
    while ((r + 1) * (r + 1) <= n) ++r;
    return r;
}

// m = outer^2 * inner with inner squarefree, or false when m is too large to factor by trial
// division soundly (a square of two large primes could hide in it).
bool split_square(uint64_t m, uint64_t* outer, uint64_t* inner) {
    static const int kPrimes[] = {
        2,   3,   5,   7,   11,  13,  17,  19,  23,  29,  31,  37,  41,  43,  47,  53,  59,  61,  67,
        71,  73,  79,  83,  89,  97,  101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163,
        167, 173, 179, 181, 191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269,
        271, 277, 281, 283, 293, 307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383,
        389, 397, 401, 409, 419, 421, 431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499,
        503, 509, 521, 523, 541, 547, 557, 563, 569, 571, 577, 587, 593, 599, 601, 607, 613, 617, 619,
        631, 641, 643, 647, 653, 659, 661, 673, 677, 683, 691, 701, 709, 719, 727, 733, 739, 743, 751,
        757, 761, 769, 773, 787, 797, 809, 811, 821, 823, 827, 829, 839, 853, 857, 859, 863, 877, 881,
        883, 887, 907, 911, 919, 929, 937, 941, 947, 953, 967, 971, 977, 983, 991, 997};
    uint64_t out = 1, in = 1;
    for (int p : kPrimes) {
        uint64_t pp = static_cast<uint64_t>(p);
        if (pp * pp > m) break;
        int e = 0;
        while (m % pp == 0) m /= pp, ++e;
        for (int k = 0; k < e / 2; ++k) out *= pp;
        if (e % 2) in *= pp;
    }
    // What is left has no prime factor <= 997 (or is 1 or a prime below 997^2).
    constexpr uint64_t kP = 997;
    if (m < kP * kP) {
        in *= m;
    } else if (uint64_t r = isqrt64(m); r * r == m) {
        out *= r;
    } else if (m < kP * kP * kP) {  // at most two prime factors above 997, not a square: squarefree
        in *= m;
    } else {
        return false;
    }
    *outer = out;
    *inner = in;
    return true;
}

// Exact integer k-th root of n >= 0, or false.
bool exact_root(i128 n, int k, i128* root) {
    if (n < 0) return false;
    if (n <= 1) {
        *root = n;
        return true;
    }
    long double guess = std::pow(static_cast<long double>(n), 1.0L / k);
    i128 r0 = static_cast<i128>(std::llround(guess));
    for (i128 r = r0 > 1 ? r0 - 1 : 1; r <= r0 + 1; ++r) {
        i128 p = 1;
        bool over = false;
        for (int i = 0; i < k && !over; ++i) over = __builtin_mul_overflow(p, r, &p);
        if (!over && p == n) {
            *root = r;
            return true;
        }
    }
    return false;
}

Value approx_root(double x, int k) {
    if (x < 0) return k % 2 ? Value::approximate(-std::pow(-x, 1.0 / k)) : Value::undefined();
    return Value::approximate(std::pow(x, 1.0 / k));
}

Value integer_power(const Value& base, long long e) {
    if (e == 0) return Value::integer(1);
    if (is_zero(base) && e < 0) return Value::undefined();
    const double x = std::pow(base.x, static_cast<double>(e));
    if (base.is_exact()) {
        Surd result;
        result.n = 1, result.rad[0] = 1, result.coef[0] = Rational{1, 1};
        Surd sq = base.s;
        bool ok = true;
        for (long long k = e < 0 ? -e : e; k > 0 && ok; k >>= 1) {
            if (k & 1) ok = surd_mul(result, sq, &result);
            if (ok && k > 1) ok = surd_mul(sq, sq, &sq);
        }
        if (ok && e < 0) {
            Surd one;
            one.n = 1, one.rad[0] = 1, one.coef[0] = Rational{1, 1};
            ok = surd_div(one, result, &result);
        }
        if (ok) return exact(result, x);
    }
    return Value::approximate(x);
}

}  // namespace

Value Value::rational(const Rational& q) {
    Surd s;
    if (q.num != 0) s.n = 1, s.rad[0] = 1, s.coef[0] = q;
    return exact(s, rational_to_double(q));
}

Value Value::approximate(double x) {
    if (!std::isfinite(x)) return Value::undefined();
    Value v;
    v.kind = Kind::approx;
    v.x = x;
    return v;
}

Value Value::infinity(bool negative) {
    Value v;
    v.kind = negative ? Kind::neg_inf : Kind::pos_inf;
    v.x = negative ? -HUGE_VAL : HUGE_VAL;
    return v;
}

Value value_neg(const Value& a) {
    switch (a.kind) {
        case Value::Kind::pos_inf:
            return Value::infinity(true);
        case Value::Kind::neg_inf:
            return Value::infinity(false);
        case Value::Kind::undefined:
            return a;
        default:
            break;
    }
    Value r = a;
    r.x = -a.x;
    for (int i = 0; i < r.s.n; ++i) r.s.coef[i].num = -r.s.coef[i].num;
    return r;
}

Value value_add(const Value& a, const Value& b) {
    if (!a.is_finite() || !b.is_finite()) {
        if (a.kind == Value::Kind::undefined || b.kind == Value::Kind::undefined) return Value::undefined();
        if (a.is_finite()) return b;
        if (b.is_finite() || a.kind == b.kind) return a;
        return Value::undefined();  // inf - inf
    }
    const double x = a.x + b.x;
    Surd s;
    if (a.is_exact() && b.is_exact() && surd_add(a.s, b.s, &s)) return exact(s, x);
    return Value::approximate(x);
}

Value value_mul(const Value& a, const Value& b) {
    if (!a.is_finite() || !b.is_finite()) {
        const Value& inf = a.is_finite() ? b : a;
        const Value& other = a.is_finite() ? a : b;
        if (inf.kind == Value::Kind::undefined || other.kind == Value::Kind::undefined || is_zero(other))
            return Value::undefined();
        const bool negative = (inf.kind == Value::Kind::neg_inf) != (other.x < 0);
        return Value::infinity(negative);
    }
    const double x = a.x * b.x;
    Surd s;
    if (a.is_exact() && b.is_exact() && surd_mul(a.s, b.s, &s)) return exact(s, x);
    return Value::approximate(x);
}

Value value_div(const Value& a, const Value& b) {
    if (!a.is_finite() || !b.is_finite() || is_zero(b)) return Value::undefined();
    const double x = a.x / b.x;
    Surd s;
    if (a.is_exact() && b.is_exact() && surd_div(a.s, b.s, &s)) return exact(s, x);
    return Value::approximate(x);
}

Value value_root(const Value& a, int k) {
    if (!a.is_finite() || k < 1 || k > kMaxRootIndex) return Value::undefined();
    if (k == 1) return a;
    if (a.is_rational()) {
        Rational q = a.as_rational();
        if (q.num < 0) {
            if (k % 2 == 0) return Value::undefined();
            return value_neg(value_root(value_neg(a), k));
        }
        if (q.num == 0) return a;  // the root of 0 is 0, not 1*sqrt(0): a zero radicand divides by 0 later
        if (k == 2) {              // sqrt(p/q) = sqrt(p*q)/q
            i128 m;
            uint64_t outer, inner;
            if (!__builtin_mul_overflow(q.num, q.den, &m) && m <= static_cast<i128>(UINT64_MAX) &&
                split_square(static_cast<uint64_t>(m), &outer, &inner)) {
                Surd s;
                s.n = 1;
                s.rad[0] = inner;
                if (auto c = make_rational(static_cast<i128>(outer), q.den)) {
                    s.coef[0] = *c;
                    return exact(s, std::sqrt(a.x));
                }
            }
        } else {
            i128 rn, rd;
            if (exact_root(q.num, k, &rn) && exact_root(q.den, k, &rd))
                if (auto c = make_rational(rn, rd)) return Value::rational(*c);
        }
    }
    return approx_root(a.x, k);
}

Value value_pow(const Value& base, const Value& exponent) {
    if (!base.is_finite() || !exponent.is_finite()) return Value::undefined();
    if (exponent.is_rational()) {
        Rational q = exponent.as_rational();
        const i128 limit = kMaxIntegerExponent;
        if (q.num >= -limit && q.num <= limit) {
            if (q.den == 1) return integer_power(base, static_cast<long long>(q.num));
            if (q.den <= kMaxRootIndex)
                return value_root(integer_power(base, static_cast<long long>(q.num)),
                                  static_cast<int>(q.den));
        }
    }
    if (base.x < 0) return Value::undefined();  // a real power of a negative number
    if (base.x == 0) return exponent.x > 0 ? Value::integer(0) : Value::undefined();
    return Value::approximate(std::pow(base.x, exponent.x));
}

Value value_factorial(const Value& a) {
    if (!a.is_rational()) return Value::undefined();
    Rational q = a.as_rational();
    if (q.den != 1 || q.num < 0 || q.num > 170) return Value::undefined();
    const int n = static_cast<int>(q.num);
    i128 f = 1;
    for (int i = 2; i <= n; ++i)
        if (__builtin_mul_overflow(f, static_cast<i128>(i), &f))
            return Value::approximate(std::tgamma(n + 1.0));
    return Value::rational(Rational{f, 1});
}

Value value_binomial(const Value& n, const Value& k) {
    if (!n.is_rational() || !k.is_rational()) return Value::undefined();
    Rational qn = n.as_rational(), qk = k.as_rational();
    if (qn.den != 1 || qk.den != 1 || qn.num < 0 || qn.num > 100000) return Value::undefined();
    if (qk.num < 0 || qk.num > qn.num) return Value::integer(0);
    i128 kk = qk.num < qn.num - qk.num ? qk.num : qn.num - qk.num;
    Rational r{1, 1};
    for (i128 i = 1; i <= kk; ++i) {  // r = r * (n - k + i) / i, an integer at every step
        if (!rational_mul(r, Rational{qn.num - kk + i, 1}, &r) || !rational_div(r, Rational{i, 1}, &r)) {
            const double nn = static_cast<double>(qn.num), kd = static_cast<double>(qk.num);
            return Value::approximate(
                std::exp(std::lgamma(nn + 1) - std::lgamma(kd + 1) - std::lgamma(nn - kd + 1)));
        }
    }
    return Value::rational(r);
}

Value value_abs(const Value& a) {
    if (a.kind == Value::Kind::neg_inf) return Value::infinity(false);
    return a.x < 0 ? value_neg(a) : a;
}

Value value_apply(double (*fn)(double), const Value& a) {
    if (!a.is_finite()) return Value::undefined();
    return Value::approximate(fn(a.x));
}

ValueMatch value_compare(const Value& a, const Value& b) {
    if (a.kind == Value::Kind::undefined || b.kind == Value::Kind::undefined) return ValueMatch::undecided;
    if (!a.is_finite() || !b.is_finite())
        return a.kind == b.kind ? ValueMatch::equal_exact : ValueMatch::different;
    if (a.is_exact() && b.is_exact())
        return surd_equal(a.s, b.s) ? ValueMatch::equal_exact : ValueMatch::different;
    const double diff = std::fabs(a.x - b.x), scale = std::fmax(std::fabs(a.x), std::fabs(b.x));
    return diff <= 1e-9 * scale || diff <= 1e-12 ? ValueMatch::equal_approx : ValueMatch::different;
}

bool value_decimal_approximates(const Value& decimal, const Value& other) {
    if (!decimal.is_finite() || !other.is_finite()) return false;
    if (other.is_rational()) {  // 1/8 = 0.125 has a finite decimal form; 1/12 has none
        i128 den = other.as_rational().den;
        while (den % 2 == 0) den /= 2;
        while (den % 5 == 0) den /= 5;
        if (den == 1) return false;
    }
    const double diff = std::fabs(decimal.x - other.x), scale = std::fabs(other.x);
    return diff <= kDecimalTolerance * scale * (1 + 1e-9);
}

}  // namespace stride
