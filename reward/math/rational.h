// Exact rationals for comparing numeric answers: "0.5" == "1/2" == "\frac{1}{2}" == "2/4".
// 128-bit numerator/denominator; anything that would overflow does not parse (the caller falls back
// to comparing text), so a huge number can never compare equal by accident.
#pragma once
#include <optional>
#include <string>

namespace stride {

struct Rational {
    __int128 num = 0;
    __int128 den = 1;  // > 0, gcd(num, den) = 1
    bool operator==(const Rational&) const = default;
};

// Integers ("-12", "1,234"), decimals ("0.5", ".5", "3."), fractions "a/b" and "\frac{a}{b}" of
// those, with an optional sign. Expects normalised text (no spaces, no $). nullopt otherwise.
std::optional<Rational> parse_rational(const std::string& text);

// num/den reduced to lowest terms with den > 0; nullopt when den == 0.
std::optional<Rational> make_rational(__int128 num, __int128 den);

// Overflow-checked arithmetic for the math verifier: false (and *out untouched) when the exact
// result does not fit in 128 bits, or on division by zero; the caller then goes approximate.
bool rational_add(const Rational& a, const Rational& b, Rational* out);
bool rational_mul(const Rational& a, const Rational& b, Rational* out);
bool rational_div(const Rational& a, const Rational& b, Rational* out);
double rational_to_double(const Rational& r);

}  // namespace stride
