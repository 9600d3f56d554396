// Values of math answers for the verifier: exact where the arithmetic allows it, approximate otherwise.
//
// Exact values are sums of rational multiples of square roots of squarefree integers
// (q0 + q1*sqrt(2) + q2*sqrt(3)...), a canonical form: two exact values are equal exactly when their
// terms are. That covers integers, decimals, fractions, scientific notation and the radicals of MATH
// answers (\frac{\sqrt{3}}{2} == \sqrt{3}/2 == \frac{3}{2\sqrt{3}}). Anything else (cube roots that are
// not perfect cubes, logarithms, overflow past 128 bits) keeps only a double and compares with a
// relative tolerance. Every operation is bounded: exponents and term counts are capped, so no input
// can make the verifier hang or allocate.
#pragma once
#include <cstdint>

#include "reward/math/rational.h"

namespace stride {

struct Surd {
    static constexpr int kMaxTerms = 4;
    int n = 0;                // terms in use, sorted by radicand, no zero coefficients; 0 terms = zero
    uint64_t rad[kMaxTerms];  // squarefree, 1 for the rational part
    Rational coef[kMaxTerms];
};

struct Value {
    enum class Kind : uint8_t { exact, approx, pos_inf, neg_inf, undefined };
    Kind kind = Kind::undefined;
    Surd s;        // kind == exact
    double x = 0;  // the numeric value, also kept for exact values

    static Value rational(const Rational& q);
    static Value integer(long long v) { return rational(Rational{v, 1}); }
    static Value approximate(double x);  // undefined when not finite
    static Value infinity(bool negative);
    static Value undefined() { return Value{}; }

    bool is_exact() const { return kind == Kind::exact; }
    bool is_finite() const { return kind == Kind::exact || kind == Kind::approx; }
    bool is_rational() const { return kind == Kind::exact && (s.n == 0 || (s.n == 1 && s.rad[0] == 1)); }
    Rational as_rational() const { return s.n == 0 ? Rational{0, 1} : s.coef[0]; }  // is_rational() only
};

Value value_neg(const Value& a);
Value value_add(const Value& a, const Value& b);
Value value_mul(const Value& a, const Value& b);
Value value_div(const Value& a, const Value& b);
Value value_pow(const Value& base, const Value& exponent);
Value value_root(const Value& a, int index);  // principal real root; odd roots of negatives allowed
Value value_factorial(const Value& a);
Value value_binomial(const Value& n, const Value& k);
Value value_abs(const Value& a);
Value value_apply(double (*fn)(double), const Value& a);  // sin, log...: approximate

enum class ValueMatch { equal_exact, equal_approx, different, undecided };
// undecided: either side is undefined (a division by zero, the root of a negative...).
ValueMatch value_compare(const Value& a, const Value& b);

// A decimal a model wrote (`decimal`, "0.0833333") against a value with no finite decimal form
// (1/12, sqrt(3)/3, an approximate value): equal within this relative tolerance, about seven
// significant digits. A value with a finite decimal form is never approximated: 0.1 != 0.10000001.
constexpr double kDecimalTolerance = 1e-6;
bool value_decimal_approximates(const Value& decimal, const Value& other);

}  // namespace stride
