// The math verifier: is a model's final answer equivalent to the dataset's, and if not, why.
//
// Both sides go through the same steps: extraction of the final answer from free text
// (reward/math/math_answer.h), parsing as LaTeX math (reward/math/math_expr.h), and equivalence (numbers
// exactly, expressions symbolically, tuples in order, sets unordered; reward/math/math_equiv.h). When a side
// does not parse, its normalised text is compared instead, and a mismatch says which side was unparseable
// rather than passing for a wrong answer.
#pragma once
#include <string>
#include <string_view>

namespace stride {

enum class MathOutcome {
    correct,
    incorrect,
    pred_unparseable,  // no answer in the response, or one the verifier cannot read
    gold_unparseable,  // the label holds no answer the verifier can read
};
const char* math_outcome_name(MathOutcome o);  // "correct", "incorrect", "pred_unparseable", ...

struct MathVerdict {
    MathOutcome outcome = MathOutcome::incorrect;
    std::string pred, gold;  // the extracted answers ("" when none)
    std::string detail;      // "pred=\frac{1}{2} gold=0.5 -> equal (exact)"
};

// A whole response against a label (either may be a worked solution with \boxed{}).
MathVerdict verify_math_response(const std::string& response, const std::string& label);

// Two answers already extracted ("\frac{1}{2}", "0.5").
MathVerdict compare_math_answers(std::string_view pred, std::string_view gold);

}  // namespace stride
