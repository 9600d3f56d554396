// The math verifier: the verdict table (tests/reward/math/data/math_verdicts.tsv), extraction, exact
// values, the outcome and detail of the math reward, and hostile inputs.
#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "reward/builtins.h"
#include "reward/math/math_answer.h"
#include "reward/math/math_expr.h"
#include "reward/math/math_value.h"
#include "reward/math/math_verify.h"

namespace stride {
namespace {

struct Row {
    int line;
    std::string gold, response, expected;
};

std::vector<Row> read_table() {
    std::ifstream in(std::string(STRIDE_SOURCE_DIR) + "/tests/reward/math/data/math_verdicts.tsv");
    std::vector<Row> rows;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> cols;
        std::stringstream ss(line);
        for (std::string col; std::getline(ss, col, '\t');) cols.push_back(col);
        if (line.back() == '\t') cols.push_back("");
        EXPECT_EQ(cols.size(), 3u) << "math_verdicts.tsv:" << n << ": " << line;
        if (cols.size() == 3) rows.push_back({n, cols[0], cols[1], cols[2]});
    }
    return rows;
}

TEST(MathVerify, VerdictTable) {
    const auto rows = read_table();
    ASSERT_GE(rows.size(), 400u);
    std::string mismatches;
    int bad = 0;
    for (const Row& r : rows) {
        MathVerdict v = verify_math_response(r.response, r.gold);
        if (math_outcome_name(v.outcome) != r.expected) {
            ++bad;
            mismatches += "  line " + std::to_string(r.line) + ": expected " + r.expected + ", got " +
                          math_outcome_name(v.outcome) + ": " + v.detail + "\n";
        }
    }
    EXPECT_EQ(bad, 0) << bad << " of " << rows.size() << " rows disagree:\n" << mismatches;
}

// Equivalence does not depend on which side is the label: every correct row of bare answers holds
// the other way round too.
TEST(MathVerify, SymmetricOnBareAnswers) {
    for (const Row& r : read_table()) {
        if (r.expected != "correct") continue;
        auto gold = extract_label_answer(r.gold);
        auto pred = extract_response_answer(r.response);
        ASSERT_TRUE(gold && pred) << r.line;
        MathVerdict v = compare_math_answers(gold->text, pred->text);
        EXPECT_EQ(v.outcome, MathOutcome::correct) << "line " << r.line << " swapped: " << v.detail;
    }
}

TEST(MathVerify, DetailNamesTheExtractedAnswersAndHow) {
    EXPECT_EQ(verify_math_response("so \\boxed{\\frac{1}{2}}", "0.5").detail,
              "pred=\\frac{1}{2} gold=0.5 -> equal (exact)");
    EXPECT_EQ(verify_math_response("\\boxed{(x+1)^2}", "x^2+2x+1").detail,
              "pred=(x+1)^2 gold=x^2+2x+1 -> equal (symbolic)");
    EXPECT_EQ(verify_math_response("\\boxed{\\log_2 8}", "3").detail,
              "pred=\\log_2 8 gold=3 -> equal (numeric)");
    EXPECT_EQ(verify_math_response("\\boxed{7}", "8").detail, "pred=7 gold=8 -> not equal");
    EXPECT_EQ(verify_math_response("it is 7", "7").detail,
              "pred=7 gold=7 -> equal (text) [pred from last number]");
    EXPECT_EQ(verify_math_response("\\boxed{(1,2}", "(1,2)").detail,
              "pred=(1,2 gold=(1,2) -> pred unparseable");
    EXPECT_EQ(verify_math_response("\\boxed{1}", "\\frac{1}{").detail,
              "pred=1 gold=\\frac{1}{ -> gold unparseable");
    EXPECT_EQ(verify_math_response("I give up", "7").detail,
              "pred= gold=7 -> no answer: no \\boxed{}, math span or number");
    EXPECT_EQ(verify_math_response("\\boxed{7", "7").detail,
              "pred= gold=7 -> no answer: \\boxed{} cut off or empty");
    MathVerdict v = verify_math_response("\\boxed{2, 1}", "1, 2");
    EXPECT_EQ(v.pred, "2, 1");
    EXPECT_EQ(v.gold, "1, 2");
}

TEST(MathVerify, RewardStatusSaysWhoseFault) {
    auto fn = make_math_reward();
    auto score = [&](const char* response, const char* answer) {
        RewardInput in;
        in.response = response;
        in.answer = answer;
        return fn->score(in);
    };
    RewardResult ok = score("\\boxed{\\dfrac{1}{2}}", "0.5");
    EXPECT_TRUE(ok.correct);
    EXPECT_EQ(ok.status, RewardStatus::ok);
    EXPECT_EQ(ok.detail, "pred=\\dfrac{1}{2} gold=0.5 -> equal (exact)");
    RewardResult wrong = score("\\boxed{3}", "4");
    EXPECT_FALSE(wrong.correct);
    EXPECT_EQ(wrong.status, RewardStatus::ok);
    RewardResult no_answer = score("I don't know", "4");
    EXPECT_EQ(no_answer.status, RewardStatus::unparseable);  // the policy's format: format penalty
    EXPECT_DOUBLE_EQ(no_answer.score, 0.0);
    RewardResult bad_label = score("\\boxed{4}", "");
    EXPECT_EQ(bad_label.status, RewardStatus::error);  // the dataset's fault: no format penalty
    EXPECT_FALSE(bad_label.correct);
}

TEST(MathAnswer, ExtractsSpansNumbersAndAnswers) {
    EXPECT_EQ(extract_last_math_span("a $x$ then $$y=2$$ and \\[z\\]"), "z");
    EXPECT_EQ(extract_last_math_span("costs \\$5 or $x = 3$"), "x = 3");
    EXPECT_EQ(extract_last_math_span("$unclosed"), std::nullopt);
    EXPECT_EQ(extract_last_math_span("no math"), std::nullopt);
    EXPECT_EQ(extract_last_number("pay $1,234.50."), "1,234.50");
    EXPECT_EQ(extract_last_number("it is -12 now"), "-12");
    EXPECT_EQ(extract_last_number("days 5-7"), "7");
    EXPECT_EQ(extract_last_number("ratio 3/4"), "3/4");
    EXPECT_EQ(extract_last_number("none"), std::nullopt);

    auto src = [](const std::optional<ExtractedAnswer>& a) { return a ? std::string(a->source) : "none"; };
    EXPECT_EQ(src(extract_response_answer("\\boxed{1} and $2$")), "boxed");
    EXPECT_EQ(src(extract_response_answer("so #### 12")), "####");
    EXPECT_EQ(src(extract_response_answer("we get 3, then $x = 2$")), "math span");
    EXPECT_EQ(src(extract_response_answer("we get $x = 2$ and 3 more")),
              "last number");  // whichever is later
    EXPECT_EQ(src(extract_response_answer("x = 3")), "whole text");
    EXPECT_EQ(src(extract_response_answer("The answer is 3")), "answer is");
    EXPECT_EQ(extract_response_answer("The answer is 5 or 6. Bye")->text, "5 or 6");
    EXPECT_EQ(src(extract_response_answer("\\boxed{1} so the final answer is $2$. Done")), "answer is");
    EXPECT_EQ(src(extract_response_answer("\\boxed{3")), "none");  // cut off: no fallback to other numbers
    EXPECT_EQ(src(extract_label_answer("x=3")), "whole text");
    EXPECT_EQ(src(extract_label_answer("\\text{Monday}")), "whole text");
    EXPECT_EQ(src(extract_label_answer("The answer is $\\frac{1}{2}$")), "math span");
    EXPECT_EQ(src(extract_label_answer("She has 3 + 4 = 7 apples. #### 7")), "####");
    EXPECT_EQ(src(extract_label_answer("  ")), "none");
}

TEST(MathAnswer, KeptFunctionsStillWork) {
    EXPECT_TRUE(math_answers_equal("\\boxed{0.5}", "\\frac12"));
    EXPECT_TRUE(math_answers_equal("(1, \\frac{1}{2})", "\\left(1,0.5\\right)"));
    EXPECT_FALSE(math_answers_equal("(1,2)", "[1,2]"));
    EXPECT_FALSE(math_answers_equal("3", "4"));
}

TEST(MathValue, SurdsHaveOneCanonicalForm) {
    auto q = [](long long n, long long d) { return Value::rational(*make_rational(n, d)); };
    auto eq = [](const Value& a, const Value& b) { return value_compare(a, b) == ValueMatch::equal_exact; };
    Value sqrt2 = value_root(Value::integer(2), 2), sqrt3 = value_root(Value::integer(3), 2);
    EXPECT_TRUE(eq(value_root(Value::integer(8), 2), value_mul(Value::integer(2), sqrt2)));
    EXPECT_TRUE(eq(value_mul(sqrt2, sqrt2), Value::integer(2)));
    EXPECT_TRUE(eq(value_mul(sqrt2, sqrt3), value_root(Value::integer(6), 2)));
    EXPECT_TRUE(eq(value_div(Value::integer(1), sqrt2), value_div(sqrt2, Value::integer(2))));
    EXPECT_TRUE(eq(value_root(q(3, 4), 2), value_div(sqrt3, Value::integer(2))));
    // 1/(1+sqrt2) = sqrt2 - 1: a two-term denominator rationalised by its conjugate.
    Value lhs = value_div(Value::integer(1), value_add(Value::integer(1), sqrt2));
    EXPECT_TRUE(eq(lhs, value_add(sqrt2, Value::integer(-1))));
    EXPECT_FALSE(eq(sqrt2, q(141421356, 100000000)));
    EXPECT_TRUE(eq(value_root(Value::integer(-27), 3), Value::integer(-3)));
    EXPECT_EQ(value_root(Value::integer(-4), 2).kind, Value::Kind::undefined);
    // Found by libFuzzer (tests/fuzz/fuzz_math_answer.cpp): sqrt(0) was 1*sqrt(0), and the product of
    // two such surds divided by gcd(0, 0) = 0 (SIGFPE, the reward process gone).
    EXPECT_TRUE(eq(value_root(Value::integer(0), 2), Value::integer(0)));
    EXPECT_TRUE(
        eq(value_mul(value_root(Value::integer(0), 2), value_root(Value::integer(0), 2)), Value::integer(0)));
    EXPECT_TRUE(eq(value_root(Value::integer(0), 3), Value::integer(0)));
    EXPECT_EQ(verify_math_response("so \\boxed{\\sqrt{0}\\sqrt{0}}", "0").outcome, MathOutcome::correct);
    EXPECT_EQ(value_div(Value::integer(1), Value::integer(0)).kind, Value::Kind::undefined);
    // A square of a prime above the trial-division limit still comes out of the root.
    EXPECT_TRUE(eq(value_root(Value::integer(1009LL * 1009 * 2), 2), value_mul(Value::integer(1009), sqrt2)));
    // Past 128 bits the value goes approximate, never wrong: 2^200 is not 2^200 + 2^100 exactly...
    Value big = value_pow(Value::integer(2), Value::integer(200));
    EXPECT_EQ(big.kind, Value::Kind::approx);
    // ...and a power too large for a double is undefined (compares with nothing), not infinity.
    EXPECT_EQ(value_pow(Value::integer(10), Value::integer(100000)).kind, Value::Kind::undefined);
    EXPECT_EQ(value_compare(Value::infinity(false), Value::infinity(false)), ValueMatch::equal_exact);
    EXPECT_EQ(value_factorial(Value::integer(5)).as_rational().num, 120);
    EXPECT_EQ(value_binomial(Value::integer(10), Value::integer(3)).as_rational().num, 120);
}

TEST(MathExpr, ParsesTheAnswerShapes) {
    MathExpr e;
    ASSERT_TRUE(parse_math_answer("x > 3", &e));  // an inequality becomes an interval
    EXPECT_EQ(e.nodes[e.root].kind, NodeKind::tuple);
    EXPECT_EQ(e.nodes[e.root].open, '(');
    ASSERT_TRUE(parse_math_answer("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", &e));
    EXPECT_EQ(e.nodes[e.root].rows, 2);
    EXPECT_EQ(e.nodes[e.root].cols, 2);
    ASSERT_TRUE(parse_math_answer("1, 2 \\text{ or } 3", &e));
    EXPECT_EQ(e.nodes[e.root].kind, NodeKind::list);
    EXPECT_EQ(e.nodes[e.root].count, 3);
    ASSERT_TRUE(parse_math_answer("\\{1,2\\}", &e));
    EXPECT_EQ(e.nodes[e.root].kind, NodeKind::set);
    EXPECT_FALSE(parse_math_answer("(1,2", &e));
    EXPECT_FALSE(parse_math_answer("1 2", &e));  // two numbers side by side: not a product anyone writes
    EXPECT_FALSE(parse_math_answer("\\begin{cases}1\\end{cases}", &e));
}

// Whatever a model writes, the verifier answers quickly and never calls it correct by accident.
// Found by libFuzzer (tests/fuzz/fuzz_math_answer.cpp): a relation holding a +- was "unordered" but
// flattened to itself, so comparing it recursed until the stack overflowed (the reward process gone).
// Run on a 256 KiB stack, where the old recursion (20000 comparisons deep) could not fit.
TEST(MathVerify, ARelationWithPlusMinusComparesWithoutRecursingForever) {
    struct Call {
        std::string response;
        MathOutcome outcome = MathOutcome::correct;
    } call{
        "8:888888\xc2\xb1"
        "8888x  8888T!<8\xc2\xb1+8!T"};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    auto run = [](void* p) -> void* {
        auto* c = static_cast<Call*>(p);
        c->outcome = verify_math_response(c->response, "42").outcome;
        return nullptr;
    };
    ASSERT_EQ(pthread_create(&t, &attr, run, &call), 0);
    pthread_join(t, nullptr);
    pthread_attr_destroy(&attr);
    EXPECT_EQ(call.outcome, MathOutcome::incorrect);
    EXPECT_EQ(verify_math_response("\\boxed{x < 1 \\pm 2}", "x < 1 \\pm 2").outcome, MathOutcome::correct);
}

TEST(MathVerify, HostileInputsAreSafe) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> inputs = {
        std::string(100000, '{'),
        "\\boxed{" + std::string(100000, '{') + "}",
        "\\boxed{" + std::string(5000, '(') + "1" + std::string(5000, ')') + "}",
        "\\boxed{" + std::string(20000, '-') + "1}",
        "\\boxed{10^{100000}}",
        "\\boxed{9^{9^{9^{9}}}}",
        "\\boxed{" + std::string(100000, '9') + "}",
        "\\boxed{1e999999999999}",
        "\\boxed{\\sqrt[100000]{2}}",
        "\\boxed{(10^{30}+1)^{200}}",
        "\\boxed{" + std::string(3000, 'x') + "}",
        "\\boxed{\\frac{1}{0}}",
        "\\boxed{0^{-1}}",
        "\\boxed{1000!}",
        "\\boxed{\\binom{100000}{50000}}",
        "\\boxed{}}}}{{{",
        "$$$$$$",
        "\\boxed{\\left(\\right)}",
        "\\boxed{\\sqrt{-1}}",
        "\\boxed{\\infty - \\infty}",
    };
    std::string boxes, stated, chain = "\\boxed{x";
    for (int i = 0; i < 20000; ++i) boxes += "\\boxed{1}, ";
    for (int i = 0; i < 20000; ++i) stated += "the answer is 1 or 2. ";
    for (int i = 0; i < 2000; ++i) chain += " = 1 \\approx";
    inputs.insert(inputs.end(), {boxes, stated, chain + " 2}", "\\boxed{" + std::string(3000, ':') + "}"});
    for (int i = 0; i < 20; ++i) {
        std::string x = "\\boxed{";
        for (int j = 0; j < 400; ++j) x += "+-*/^_(){}[]\\frac\\sqrt12x,;=|!"[(i * 131 + j * 17) % 31];
        inputs.push_back(x + "}");
    }
    std::mt19937 rng(7);
    for (int i = 0; i < 300; ++i) {
        std::string x(rng() % 200, '\0');
        for (char& c : x) c = static_cast<char>(rng() % 256);
        inputs.push_back(x);
        inputs.push_back("\\boxed{" + x + "}");
    }
    // Sets of sets that almost match: quadratic work twice over, capped; a reordered copy still matches.
    auto nested = [](int n, bool reversed, int last) {
        std::string s = "\\{";
        for (int i = 0; i < n; ++i) {
            s += i ? ",\\{" : "\\{";
            for (int j = 0; j < n; ++j) {
                int v = reversed ? n - 1 - j : j;
                s += (j ? "," : "") + std::to_string(v == n - 1 ? last : v);
            }
            s += "\\}";
        }
        return s + "\\}";
    };
    EXPECT_EQ(verify_math_response("\\boxed{" + nested(30, false, 29) + "}", nested(30, false, 99)).outcome,
              MathOutcome::incorrect);
    EXPECT_EQ(verify_math_response("\\boxed{" + nested(20, false, 19) + "}", nested(20, true, 19)).outcome,
              MathOutcome::correct);
    for (const auto& in : inputs) {
        MathVerdict v = verify_math_response(in, "42");
        EXPECT_NE(v.outcome, MathOutcome::correct) << in.substr(0, 60);
        verify_math_response("\\boxed{42}", in);  // as a label, too
        verify_math_response(in, in);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(s, 5.0);
}

}  // namespace
}  // namespace stride
