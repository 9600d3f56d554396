#include "reward/rational.h"

#include <cctype>

namespace stride {

namespace {

using i128 = __int128;

i128 gcd(i128 a, i128 b) {
    if (a < 0) a = -a;
    while (b != 0) {
        i128 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

std::optional<Rational> make(i128 num, i128 den) {
    if (den == 0) return std::nullopt;
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
