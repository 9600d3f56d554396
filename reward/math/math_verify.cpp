#include "reward/math/math_verify.h"

#include "reward/math/math_answer.h"
#include "reward/math/math_equiv.h"
#include "reward/math/math_expr.h"

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

MathVerdict verify_math_response(const std::string& response, const std::string& label) {
    auto gold = extract_label_answer(label);
    auto pred = extract_response_answer(response);
    if (!gold) {
        MathVerdict v =
            verdict(MathOutcome::gold_unparseable, pred ? pred->text : "", "", "no answer in the label");
        return v;
    }
    if (!pred) {
        const char* why =
            response.find("\\boxed") != std::string::npos || response.find("\\fbox") != std::string::npos
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
