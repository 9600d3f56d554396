#include "reward/math/math_number.h"

#include <charconv>
#include <string>

namespace stride {

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// 0.1\overline{6} = 0.1 + 6 / (10 * 9): the written part plus the repetend over 10^f (10^r - 1).
Value repeating_decimal(std::string_view text, size_t overline) {
    std::string_view written = text.substr(0, overline);
    std::string_view repetend = text.substr(overline + 10, text.size() - overline - 11);
    size_t dot = written.find('.');
    size_t f = dot == std::string_view::npos ? 0 : written.size() - dot - 1;
    if (f + repetend.size() > 30) return Value::undefined();
    __int128 rep = 0, den = 1, nines = 1;
    for (char c : repetend) rep = rep * 10 + (c - '0'), nines *= 10;
    for (size_t i = 0; i < f; ++i) den *= 10;
    auto tail = make_rational(rep, den * (nines - 1));
    if (!tail) return Value::undefined();
    return value_add(number_value(written), Value::rational(*tail));
}

}  // namespace

Value number_value(std::string_view text) {
    if (size_t o = text.find("\\overline{"); o != std::string_view::npos) return repeating_decimal(text, o);
    std::string digits, cleaned;
    int frac_len = 0;
    long long exp10 = 0;
    bool seen_dot = false, exp_neg = false;
    size_t i = 0;
    for (; i < text.size(); ++i) {
        char c = text[i];
        if (is_digit(c)) {
            if (!(digits.empty() && c == '0')) digits += c;
            if (seen_dot) ++frac_len;
            cleaned += c;
        } else if (c == '.') {
            seen_dot = true;
            cleaned += c;
        } else if (c == 'e' || c == 'E') {
            break;
        }  // thousands separators: ',', '{', '}', '\\'
    }
    if (i < text.size()) {
        cleaned += 'e';
        ++i;
        if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_neg = text[i++] == '-';
        if (exp_neg) cleaned += '-';
        for (; i < text.size(); ++i) {
            if (exp10 < 1000000) exp10 = exp10 * 10 + (text[i] - '0');
            cleaned += text[i];
        }
    }
    if (exp_neg) exp10 = -exp10;
    exp10 -= frac_len;  // value = digits * 10^exp10
    if (digits.size() <= 36 && exp10 >= -36 && exp10 <= 36) {
        __int128 num = 0, den = 1, scale = 1;
        for (char c : digits) num = num * 10 + (c - '0');
        for (long long k = 0; k < (exp10 < 0 ? -exp10 : exp10); ++k) scale *= 10;
        bool ok = true;
        if (exp10 >= 0)
            ok = !__builtin_mul_overflow(num, scale, &num);
        else
            den = scale;
        if (ok)
            if (auto q = make_rational(num, den)) return Value::rational(*q);
    }
    double x = 0;
    auto res = std::from_chars(cleaned.data(), cleaned.data() + cleaned.size(), x);
    if (res.ec != std::errc()) return Value::undefined();
    return Value::approximate(x);
}

}  // namespace stride
