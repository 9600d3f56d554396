#include "reward/math/rational.h"

#include <cctype>
#include <cstdint>
#include <limits>

namespace stride {

namespace {

using i128 = __int128;

// 128-bit division is slow; answers are almost always small numbers, so take the 64-bit path then.
i128 gcd(i128 a, i128 b) {
    if (a < 0) a = -a;
    if (b < 0) b = -b;
    while (b != 0) {
        if (a <= INT64_MAX && b <= INT64_MAX) {
            uint64_t x = static_cast<uint64_t>(a), y = static_cast<uint64_t>(b);
            while (y != 0) {
                uint64_t t = x % y;
                x = y;
                y = t;
            }
            return x;
        }
        i128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

bool fits64(i128 x) {
    return x >= INT64_MIN && x <= INT64_MAX;
}

std::optional<Rational> make(i128 num, i128 den) {
    if (den == 0) return std::nullopt;
    if (fits64(num) && fits64(den) && num != INT64_MIN &&
        den != INT64_MIN) {  // 64-bit division is much faster
        int64_t n = static_cast<int64_t>(num), d = static_cast<int64_t>(den);
        if (d < 0) n = -n, d = -d;
        uint64_t a = static_cast<uint64_t>(n < 0 ? -n : n), b = static_cast<uint64_t>(d);
        while (b != 0) {
            uint64_t t = a % b;
            a = b;
            b = t;
        }
        int64_t g = static_cast<int64_t>(a);
        if (g > 1) n /= g, d /= g;
        return Rational{n, d};
    }
    // -INT128_MIN does not exist; such a value is far beyond any answer anyway.
    if (num == std::numeric_limits<i128>::min() || den == std::numeric_limits<i128>::min())
        return std::nullopt;
    if (den < 0) num = -num, den = -den;
    i128 g = gcd(num, den);
    if (g > 1) num /= g, den /= g;
    return Rational{num, den};
}

// Digits with optional thousands commas (only in groups of three: "1,234", not "1,2").
bool strip_thousands(const std::string& s, std::string& out) {
    if (s.find(',') == std::string::npos) {
        out = s;
        return true;
    }
    size_t first = s.find(',');
    if (first == 0 || first > 3) return false;
    out = s.substr(0, first);
    for (size_t i = first; i < s.size(); i += 4) {
        if (s[i] != ',' || i + 4 > s.size()) return false;
        std::string group = s.substr(i + 1, 3);
        for (char c : group)
            if (!std::isdigit(static_cast<unsigned char>(c))) return false;
        out += group;
    }
    return true;
}

// [+-]digits[.digits] with thousands commas in the integer part.
std::optional<Rational> parse_decimal(std::string s) {
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) neg = s[0] == '-', s = s.substr(1);
    size_t dot = s.find('.');
    std::string int_part, frac_part = dot == std::string::npos ? "" : s.substr(dot + 1);
    if (!strip_thousands(s.substr(0, dot), int_part)) return std::nullopt;
    if (int_part.empty() && frac_part.empty()) return std::nullopt;
    std::string digits = int_part + frac_part;
    if (digits.size() > 36) return std::nullopt;  // beyond 128-bit exactness
    i128 num = 0, den = 1;
    for (char c : digits) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        num = num * 10 + (c - '0');
    }
    for (size_t i = 0; i < frac_part.size(); ++i) den *= 10;
    return make(neg ? -num : num, den);
}

std::optional<Rational> divide(const std::optional<Rational>& a, const std::optional<Rational>& b) {
    if (!a || !b || b->num == 0) return std::nullopt;
    i128 n, d;
    if (__builtin_mul_overflow(a->num, b->den, &n) || __builtin_mul_overflow(a->den, b->num, &d))
        return std::nullopt;
    return make(n, d);
}

// "{...}" at s[pos]: returns the content and moves pos past the closing brace.
bool braced(const std::string& s, size_t& pos, std::string& content) {
    if (pos >= s.size() || s[pos] != '{') return false;
    int depth = 0;
    for (size_t i = pos; i < s.size(); ++i) {
        if (s[i] == '{') ++depth;
        if (s[i] == '}' && --depth == 0) {
            content = s.substr(pos + 1, i - pos - 1);
            pos = i + 1;
            return true;
        }
    }
    return false;
}

}  // namespace

std::optional<Rational> make_rational(__int128 num, __int128 den) {
    return make(num, den);
}

bool rational_add(const Rational& a, const Rational& b, Rational* out) {
    if (a.den == 1 && b.den == 1) {  // the common case: integers
        i128 n;
        if (__builtin_add_overflow(a.num, b.num, &n)) return false;
        *out = Rational{n, 1};
        return true;
    }
    i128 g = gcd(a.den, b.den);
    i128 x, y, n, d;
    if (__builtin_mul_overflow(a.num, b.den / g, &x) || __builtin_mul_overflow(b.num, a.den / g, &y) ||
        __builtin_add_overflow(x, y, &n) || __builtin_mul_overflow(a.den / g, b.den, &d))
        return false;
    auto r = make(n, d);
    if (!r) return false;
    *out = *r;
    return true;
}

bool rational_mul(const Rational& a, const Rational& b, Rational* out) {
    if (a.den == 1 && b.den == 1) {
        i128 n;
        if (__builtin_mul_overflow(a.num, b.num, &n)) return false;
        *out = Rational{n, 1};
        return true;
    }
    // Cross-reduce first so that products of reduced fractions stay small.
    i128 g1 = gcd(a.num, b.den), g2 = gcd(b.num, a.den);
    if (g1 == 0) g1 = 1;
    if (g2 == 0) g2 = 1;
    i128 n, d;
    if (__builtin_mul_overflow(a.num / g1, b.num / g2, &n) ||
        __builtin_mul_overflow(a.den / g2, b.den / g1, &d))
        return false;
    auto r = make(n, d);
    if (!r) return false;
    *out = *r;
    return true;
}

bool rational_div(const Rational& a, const Rational& b, Rational* out) {
    if (b.num == 0) return false;
    auto inv = make(b.den, b.num);
    return inv && rational_mul(a, *inv, out);
}

double rational_to_double(const Rational& r) {
    return static_cast<double>(static_cast<long double>(r.num) / static_cast<long double>(r.den));
}

std::optional<Rational> parse_rational(const std::string& text) {
    std::string s = text;
    bool neg = false;
    if (!s.empty() && (s[0] == '-' || s[0] == '+') && s.size() > 1 && s[1] == '\\')
        neg = s[0] == '-', s = s.substr(1);
    std::optional<Rational> r;
    if (s.rfind("\\frac", 0) == 0) {
        size_t pos = 5;
        std::string a, b;
        if (!braced(s, pos, a) || !braced(s, pos, b) || pos != s.size()) return std::nullopt;
        r = divide(parse_rational(a), parse_rational(b));
    } else if (size_t slash = s.find('/'); slash != std::string::npos) {
        if (s.find('/', slash + 1) != std::string::npos) return std::nullopt;
        r = divide(parse_decimal(s.substr(0, slash)), parse_decimal(s.substr(slash + 1)));
    } else {
        r = parse_decimal(s);
    }
    if (r && neg) r->num = -r->num;
    return r;
}

}  // namespace stride
