#include "reward/math/math_verify.h"

#include <optional>

#include "reward/math/math_answer.h"
#include "reward/math/math_equiv.h"
#include "reward/math/math_expr.h"
#include "reward/math/math_text.h"

namespace stride {

namespace {

// Answers in the detail string: whole when short, else their start (details end up in logs).
std::string shown(std::string_view s) {
    constexpr size_t kMax = 80;
    return s.size() <= kMax ? std::string(s) : std::string(s.substr(0, kMax)) + "...";
}

std::string without_spaces(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s)
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '$') out += c;
    return out;
}

MathVerdict verdict(MathOutcome outcome, std::string_view pred, std::string_view gold,
                    const std::string& why) {
    MathVerdict v;
    v.outcome = outcome;
    v.pred = std::string(pred);
    v.gold = std::string(gold);
    v.detail = "pred=" + shown(pred) + " gold=" + shown(gold) + " -> " + why;
    return v;
}

MathVerdict compare_as_written(std::string_view pred, std::string_view gold) {
    if (without_spaces(pred) == without_spaces(gold))
        return verdict(MathOutcome::correct, pred, gold, "equal (text)");
    MathExpr p, g;
    const bool gold_ok = parse_math_answer(gold, &g);
    const bool pred_ok = gold_ok && parse_math_answer(pred, &p);
    if (!gold_ok || !pred_ok) {
        // What the grammar does not cover may still be the same answer written the same way. (Not for
        // answers past the parser's size cap: normalising those is quadratic in the worst case.)
        constexpr size_t kMaxNormalised = 4096;
        if (pred.size() <= kMaxNormalised && gold.size() <= kMaxNormalised &&
            normalize_math_answer(std::string(pred)) == normalize_math_answer(std::string(gold)))
            return verdict(MathOutcome::correct, pred, gold, "equal (normalised text)");
        if (!gold_ok) return verdict(MathOutcome::gold_unparseable, pred, gold, "gold unparseable");
        return verdict(MathOutcome::pred_unparseable, pred, gold, "pred unparseable");
    }
    MathEquivalence eq = math_equivalent(p, g);
    if (eq.equal) return verdict(MathOutcome::correct, pred, gold, std::string("equal (") + eq.how + ")");
    return verdict(MathOutcome::incorrect, pred, gold, "not equal");
}

// "1,22" and "1000,99" read with a decimal comma (1.22, 1000.99): one comma between digits that is not
// a thousands separator (a group of three digits after a 1-3 digit group not starting with 0).
std::optional<std::string> decimal_comma_reading(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '$')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '$')) --e;
    std::string t(s.substr(b, e - b));
    const size_t comma = t.find(',');
    const size_t start = !t.empty() && t[0] == '-' ? 1 : 0;
    if (comma == std::string::npos || comma == start || comma + 1 == t.size()) return std::nullopt;
    for (size_t i = start; i < t.size(); ++i)
        if (i != comma && (t[i] < '0' || t[i] > '9')) return std::nullopt;
    const size_t whole = comma - start, frac = t.size() - comma - 1;
    if (frac == 3 && whole <= 3 && t[start] != '0') return std::nullopt;  // 1,234: thousands
    t[comma] = '.';
    return t;
}

}  // namespace

const char* math_outcome_name(MathOutcome o) {
    switch (o) {
        case MathOutcome::correct:
            return "correct";
        case MathOutcome::incorrect:
            return "incorrect";
        case MathOutcome::pred_unparseable:
            return "pred_unparseable";
        case MathOutcome::gold_unparseable:
            return "gold_unparseable";
    }
    return "?";
}

MathVerdict compare_math_answers(std::string_view pred, std::string_view gold) {
    MathVerdict v = compare_as_written(pred, gold);
    if (v.outcome == MathOutcome::correct) return v;
    // A decimal comma: "1,22" is 1.22 when the list 1, 22 is not the answer.
    auto p = decimal_comma_reading(pred), g = decimal_comma_reading(gold);
    if (!p && !g) return v;
    MathVerdict d = compare_as_written(p ? *p : pred, g ? *g : gold);
    if (d.outcome != MathOutcome::correct) return v;
    return verdict(MathOutcome::correct, pred, gold, "equal (decimal comma)");
}

MathVerdict verify_math_response(const std::string& response, const std::string& label) {
    auto gold = extract_label_answer(label);
    auto pred = extract_response_answer(response);
    if (!gold) {
        MathVerdict v =
            verdict(MathOutcome::gold_unparseable, pred ? pred->text : "", "", "no answer in the label");
        return v;
    }
    if (!pred) {
        const char* why = math_text::has_box_command(response)
                              ? "no answer: \\boxed{} cut off or empty"
                              : "no answer: no \\boxed{}, math span or number";
        return verdict(MathOutcome::pred_unparseable, "", gold->text, why);
    }
    MathVerdict v = compare_math_answers(pred->text, gold->text);
    if (std::string_view(pred->source) != "boxed")
        v.detail += std::string(" [pred from ") + pred->source + "]";
    return v;
}

bool math_answers_equal(const std::string& a, const std::string& b) {
    std::string x = extract_last_boxed(a).value_or(a), y = extract_last_boxed(b).value_or(b);
    return compare_math_answers(x, y).outcome == MathOutcome::correct;
}

}  // namespace stride
