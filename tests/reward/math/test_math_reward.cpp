// math reward: \boxed{} extraction, LaTeX normalisation, exact-rational equivalence (the verdict table and
// the verifier's own tests: test_math_verify.cpp).
#include <gtest/gtest.h>

#include "reward/builtins.h"
#include "reward/math/math_answer.h"
#include "reward/math/rational.h"

namespace stride {
namespace {

TEST(Rational, ParsesTheUsualNumberForms) {
    auto r = [](const char* s) { return parse_rational(s); };
    EXPECT_EQ(r("0.5"), r("1/2"));
    EXPECT_EQ(r("\\frac{1}{2}"), r("2/4"));
    EXPECT_EQ(r("-\\frac{3}{4}"), r("-0.75"));
    EXPECT_EQ(r("\\frac{-3}{4}"), r("-0.75"));
    EXPECT_EQ(r("1,234"), r("1234"));
    EXPECT_EQ(r(".5"), r("0.50"));
    EXPECT_EQ(r("3."), r("3"));
    EXPECT_EQ(r("\\frac{0.5}{2}"), r("1/4"));
    EXPECT_EQ(r("+7"), r("7"));
    EXPECT_FALSE(r("1,23"));  // not a thousands grouping
    EXPECT_FALSE(r("1/0"));   // undefined
    EXPECT_FALSE(r("x"));
    EXPECT_FALSE(r(""));
    EXPECT_FALSE(r("1/2/3"));
    EXPECT_FALSE(r("123456789012345678901234567890123456789"));  // too long to be exact: text comparison
    EXPECT_NE(r("0.3333333333"), r("1/3"));
}

TEST(MathAnswer, ExtractsTheLastBoxedWithNestedBraces) {
    EXPECT_EQ(extract_last_boxed("so \\boxed{1} then \\boxed{\\frac{1}{2}}."), "\\frac{1}{2}");
    EXPECT_EQ(extract_last_boxed("\\boxed{\\{1,2\\}}"), "\\{1,2\\}");
    EXPECT_EQ(extract_last_boxed("\\fbox{7}"), "7");
    EXPECT_EQ(extract_last_boxed("answer: \\boxed 5$"), "5");
    EXPECT_FALSE(extract_last_boxed("\\boxed{unclosed"));
    EXPECT_FALSE(extract_last_boxed("no answer here"));
}

TEST(MathAnswer, NormalisesLatexCosmetics) {
    struct Case {
        const char* in;
        const char* out;
    };
    const Case cases[] = {
        {" 1 2 ", "12"},
        {"$\\dfrac{1}{2}$", "\\frac{1}{2}"},
        {"\\tfrac12", "\\frac{1}{2}"},
        {"\\left( 1, 2 \\right)", "(1,2)"},
        {"10\\text{ cm}", "10cm"},
        {"\\text{(A)}", "(A)"},
        {"5.", "5"},
        {"90^\\circ", "90"},
        {"50\\%", "50"},
        {"x = 3", "3"},
        {"\\sqrt2", "\\sqrt{2}"},
        {"\\boxed{4}", "4"},
        {"1\\!000", "1000"},
        {"\\leftarrow", "\\leftarrow"},  // only the \left command itself goes
    };
    for (const auto& c : cases) EXPECT_EQ(normalize_math_answer(c.in), c.out) << c.in;
}

TEST(MathReward, TableOfCases) {
    struct Case {
        const char* response;
        const char* answer;
        bool correct;
        RewardStatus status;
    };
    const Case cases[] = {
        {"The answer is \\boxed{0.5}", "\\frac{1}{2}", true, RewardStatus::ok},
        {"\\boxed{1/2}", "0.5", true, RewardStatus::ok},
        {"\\boxed{\\dfrac{1}{2}}", "\\frac12", true, RewardStatus::ok},
        {"\\boxed{\\left(1, \\frac{1}{2}\\right)}", "(1,0.5)", true, RewardStatus::ok},
        {"\\boxed{(1,2)}", "[1,2]", false, RewardStatus::ok},  // open vs closed interval
        {"\\boxed{1,000}", "1000", true, RewardStatus::ok},
        {"\\boxed{\\text{Monday}}", "Monday", true, RewardStatus::ok},
        {"\\boxed{x=5}.", "5", true, RewardStatus::ok},
        {"first \\boxed{3}, finally \\boxed{4}", "4", true, RewardStatus::ok},
        {"\\boxed{3}", "4", false, RewardStatus::ok},
        {"\\boxed{\\sqrt{2}}", "\\sqrt2", true, RewardStatus::ok},
        {"\\boxed{2\\pi}", "2\\pi", true, RewardStatus::ok},
        {"\\boxed{-3}", "3", false, RewardStatus::ok},
        {"\\boxed{90^\\circ}", "90", true, RewardStatus::ok},
        {"\\boxed{5}", "Solution ... so \\boxed{5}.", true, RewardStatus::ok},  // reference with its own box
        {"the answer is 5", "5", true, RewardStatus::ok},                       // no box: the last number
        {"I do not know", "5", false, RewardStatus::unparseable},
        {"\\boxed{5", "5", false, RewardStatus::unparseable},
    };
    auto fn = make_math_reward();
    EXPECT_EQ(fn->name(), "math");
    for (const auto& c : cases) {
        RewardInput in;
        in.response = c.response;
        in.answer = c.answer;
        RewardResult r = fn->score(in);
        EXPECT_EQ(r.correct, c.correct) << c.response << " vs " << c.answer << ": " << r.detail;
        EXPECT_EQ(r.status, c.status) << c.response;
        EXPECT_DOUBLE_EQ(r.score, c.correct ? 1.0 : 0.0) << c.response;
    }
}

}  // namespace
}  // namespace stride
