// Weighted sums of reward terms (reward/composite_reward.h): parsing, the credit of built-in and
// Python terms together, the job's shaping on top, and a failing term deciding the status.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/base/error.h"
#include "reward/composite_reward.h"
#include "reward/registry.h"
#include "tests/reward/reward_test_util.h"

using namespace stride;
using test::reward_input;

namespace {

std::string py(const std::string& file) {
    return "python:" STRIDE_SOURCE_DIR "/tests/reward/python/" + file + ".py:score";
}

RewardSpec spec_of(const std::string& fn) {
    RewardSpec s;
    s.fn = fn;
    s.correct = 1.0;
    s.incorrect = -1.0;
    s.timeout_s = 5.0;
    s.plugin_workers = 1;
    s.plugin_memory_mb = 512;
    return s;
}

}  // namespace

TEST(RewardTerms, Parse) {
    EXPECT_FALSE(is_composite_spec("math"));
    EXPECT_FALSE(is_composite_spec("python:dir/r.py:score"));
    EXPECT_TRUE(is_composite_spec("math + exact_match"));
    EXPECT_TRUE(is_composite_spec("0.5*math"));
    const auto t = parse_reward_terms(" 0.8*math + 0.2 * python:dir/f.py:score+exact_match ");
    ASSERT_EQ(t.size(), 3u);
    EXPECT_DOUBLE_EQ(t[0].weight, 0.8);
    EXPECT_EQ(t[0].fn, "math");
    EXPECT_DOUBLE_EQ(t[1].weight, 0.2);
    EXPECT_EQ(t[1].fn, "python:dir/f.py:score");
    EXPECT_DOUBLE_EQ(t[2].weight, 1.0);
    EXPECT_EQ(t[2].fn, "exact_match");
    EXPECT_DOUBLE_EQ(parse_reward_terms("-0.1*exact_match")[0].weight, -0.1);  // a penalty term
}

TEST(RewardTerms, MalformedSumsNameTheTerm) {
    auto error_of = [](const std::string& fn) {
        return test::error_message([&] { parse_reward_terms(fn); });
    };
    EXPECT_NE(error_of("math +").find("reward.fn: 'math +': term 2 is empty"), std::string::npos);
    EXPECT_NE(error_of("x*math").find("reward.fn: term 'x*math': the weight 'x'"), std::string::npos);
    EXPECT_NE(error_of("0*math").find("not a finite non-zero number"), std::string::npos);
    EXPECT_NE(error_of("0.5*").find("has a weight but no reward"), std::string::npos);
    // An unknown term is refused when the reward is built, naming it.
    EXPECT_NE(
        test::make_reward_error(spec_of("0.5*math + 0.5*nope")).find("reward.fn: unknown reward 'nope'"),
        std::string::npos);
}

// 0.75 x math (the boxed answer equals the label) + 0.25 x a Python term (1 for the exact answer,
// 0.5 when the response contains it), mapped onto [incorrect, correct] = [-1, 1]: -1 + 2 x credit.
TEST(CompositeReward, WeightedCreditOfBuiltInAndPythonTermsIsShapedOnce) {
    auto fn = make_reward(spec_of("0.75*math + 0.25*" + py("good")));
    const auto out = fn->score_batch({reward_input("7", "7"), reward_input("so \\boxed{7}", "7"),
                                      reward_input("\\boxed{8}", "7"), reward_input("8", "7")});
    ASSERT_EQ(out.size(), 4u);
    for (const RewardResult& r : out) EXPECT_EQ(r.status, RewardStatus::ok) << r.detail;
    EXPECT_DOUBLE_EQ(out[0].score, 1.0);  // credit 0.75 + 0.25
    EXPECT_TRUE(out[0].correct);
    EXPECT_DOUBLE_EQ(out[1].score, -1 + 2 * (0.75 + 0.25 * 0.5));  // math right, python half
    EXPECT_FALSE(out[1].correct) << "correct needs full credit from every term";
    EXPECT_DOUBLE_EQ(out[2].score, -1.0);  // "\boxed{8}" contains no 7: credit 0
    EXPECT_DOUBLE_EQ(out[3].score, -1.0);
    EXPECT_NE(out[1].detail.find("math ok 1"), std::string::npos) << out[1].detail;
    EXPECT_NE(out[1].detail.find("ok 0.5: contains 7"), std::string::npos) << out[1].detail;
    EXPECT_EQ(fn->score(reward_input("7", "7")).score, 1.0);  // one at a time, the same
}

// The format and overlong terms of the job apply to the sum, and a failing term makes the sample a
// failed call (fallback score), the others' credit notwithstanding.
TEST(CompositeReward, ShapingAppliesToTheSumAndAFailingTermDecidesTheStatus) {
    RewardSpec s = spec_of("0.5*exact_match + 0.5*" + py("raises"));
    s.format_weight = 0.5;
    s.overlong_buffer = 4;
    s.max_tokens = 8;
    auto fn = make_reward(s);
    RewardInput long_ok = reward_input("ok", "ok");
    long_ok.response_tokens = 6;                   // 2 tokens into the 4-token buffer: -0.5
    RewardInput bad = reward_input("bad", "bad");  // raises.py fails unless the label is "ok"
    const auto out = fn->score_batch({long_ok, bad});
    EXPECT_EQ(out[0].status, RewardStatus::ok) << out[0].detail;
    EXPECT_DOUBLE_EQ(out[0].score, 1.0 - 0.5);
    EXPECT_EQ(out[1].status, RewardStatus::error);
    EXPECT_FALSE(out[1].correct);
    EXPECT_DOUBLE_EQ(out[1].score, -1.0);
    EXPECT_NE(out[1].detail.find("ValueError: bad sample"), std::string::npos) << out[1].detail;
    // Unparseable in one term (math finds no answer in an empty response): the format penalty.
    auto m = make_reward([] {
        RewardSpec u = spec_of("0.5*math + 0.5*exact_match");
        u.format_weight = 0.25;
        return u;
    }());
    const RewardResult u = m->score(reward_input("", "3"));
    EXPECT_EQ(u.status, RewardStatus::unparseable) << u.detail;
    EXPECT_DOUBLE_EQ(u.score, -1.0 - 0.25);
}
