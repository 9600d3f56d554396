// exact_match, arith, gsm8k, collatz; shaping (format, overlong), registry, time limits.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/base/error.h"
#include "reward/builtins.h"
#include "reward/guard.h"
#include "reward/registry.h"

namespace stride {
namespace {

struct Case {
    const char* response;
    const char* answer;
    bool correct;
    RewardStatus status;
};

void check_table(const RewardFn& fn, const std::vector<Case>& cases) {
    for (const auto& c : cases) {
        RewardResult r = fn.score({"prompt", c.response, c.answer, 0, false});
        EXPECT_EQ(r.correct, c.correct)
            << fn.name() << ": \"" << c.response << "\" vs \"" << c.answer << "\" " << r.detail;
        EXPECT_EQ(r.status, c.status) << fn.name() << ": \"" << c.response << "\"";
        EXPECT_DOUBLE_EQ(r.score, c.correct ? 1.0 : 0.0);
        if (!c.correct) {
            EXPECT_FALSE(r.detail.empty()) << "a wrong answer says why";
        }
    }
}

TEST(Rewards, ExactMatch) {
    check_table(*make_exact_match_reward(), {
                                                {"Paris", "Paris", true, RewardStatus::ok},
                                                {"  Paris\n", "Paris ", true, RewardStatus::ok},
                                                {"paris", "Paris", false, RewardStatus::ok},
                                                {"", "Paris", false, RewardStatus::unparseable},
                                            });
}

TEST(Rewards, ArithExactDigits) {
    check_table(*make_arith_reward(), {
                                          {"861", "861", true, RewardStatus::ok},
                                          {"861\n", "861", true, RewardStatus::ok},
                                          {"86", "861", false, RewardStatus::ok},
                                          {"8610", "861", false, RewardStatus::ok},  // extra digit is wrong
                                          {"168", "861", false, RewardStatus::ok},   // wrong digit order
                                          {"86+1", "861", false, RewardStatus::unparseable},
                                          {"", "861", false, RewardStatus::unparseable},
                                      });
}

TEST(Rewards, Gsm8kHashAnswer) {
    check_table(*make_gsm8k_reward(),
                {
                    {"She pays 3*24 = 72.\n#### 72", "72", true, RewardStatus::ok},
                    {"#### 1,234", "1234", true, RewardStatus::ok},
                    {"#### $1,234.", "1234", true, RewardStatus::ok},
                    {"#### 72.0", "72", true, RewardStatus::ok},
                    {"#### -5", "-5", true, RewardStatus::ok},
                    {"#### 5", "-5", false, RewardStatus::ok},
                    {"#### 71\nwait #### 72", "72", true, RewardStatus::ok},  // last one counts
                    {"#### 72", "Natalia sold 48/2 = 24 ... 48+24 = 72\n#### 72", true,
                     RewardStatus::ok},  // reference is a full solution
                    {"The answer is 72", "72", false, RewardStatus::unparseable},
                    {"#### many", "72", false, RewardStatus::unparseable},
                });
}

TEST(Rewards, CollatzTrajectory) {
    check_table(
        *make_collatz_reward(),
        {
            {"6 3 10 5 16 8 4 2 1", "6 3 10 5 16 8 4 2 1", true, RewardStatus::ok},
            {"6, 3, 10, 5, 16, 8, 4, 2, 1", "6 3 10 5 16 8 4 2 1", true, RewardStatus::ok},
            {"6 -> 3 -> 10 -> 5 -> 16 -> 8 -> 4 -> 2 -> 1", "6 3 10 5 16 8 4 2 1", true, RewardStatus::ok},
            {"6 3 10 5 16 8 4 2", "6 3 10 5 16 8 4 2 1", false, RewardStatus::ok},
            {"6 3 11 5 16 8 4 2 1", "6 3 10 5 16 8 4 2 1", false, RewardStatus::ok},
            {"no idea", "6 3 10 5 16 8 4 2 1", false, RewardStatus::unparseable},
        });
    RewardResult r = make_collatz_reward()->score({"", "6 3 11", "6 3 10 5 16 8 4 2 1", 0, false});
    EXPECT_NE(r.detail.find("position 2"), std::string::npos) << r.detail;
}

TEST(Registry, BuildsEveryBuiltinByNameAndRejectsUnknownOnes) {
    EXPECT_EQ(builtin_reward_names(),
              (std::vector<std::string>{"arith", "collatz", "exact_match", "gsm8k", "math"}));
    for (const auto& name : builtin_reward_names()) EXPECT_EQ(make_base_reward(name)->name(), name);
    try {
        make_base_reward("maths");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "reward.fn: unknown reward 'maths' (built-ins: arith, collatz, exact_match, gsm8k, math)");
    }
    RewardSpec spec;
    spec.fn = "nope";
    EXPECT_THROW(make_reward(spec), Error);
}

TEST(Registry, SpecComesFromTheJobConfig) {
    JobConfig cfg;
    cfg.reward.fn = "gsm8k";
    cfg.reward.incorrect = -1;
    cfg.reward.format_weight = 0.5;
    cfg.rollout.max_tokens = 20;
    cfg.reward.overlong_buffer = 4;
    RewardSpec s = reward_spec_from_config(cfg);
    EXPECT_EQ(s.fn, "gsm8k");
    EXPECT_DOUBLE_EQ(s.incorrect, -1);
    EXPECT_DOUBLE_EQ(s.format_weight, 0.5);
    EXPECT_EQ(s.max_tokens, 20);
    EXPECT_EQ(s.overlong_buffer, 4);
    EXPECT_DOUBLE_EQ(s.timeout_s, cfg.reward.timeout_s);
}

TEST(Shaping, ScoresFormatPenaltyAndOverlong) {
    RewardSpec spec;
    spec.fn = "arith";
    spec.correct = 1.0;
    spec.incorrect = -1.0;  // DAPO style
    spec.format_weight = 0.5;
    spec.max_tokens = 20;
    spec.overlong_buffer = 4;
    auto fn = make_reward(spec);
    EXPECT_EQ(fn->name(), "arith");
    auto score = [&](const char* resp, int tokens) { return fn->score({"", resp, "861", tokens, false}); };
    EXPECT_DOUBLE_EQ(score("861", 5).score, 1.0);
    EXPECT_DOUBLE_EQ(score("86", 5).score, -1.0);
    RewardResult bad = score("eight", 5);
    EXPECT_EQ(bad.status, RewardStatus::unparseable);
    EXPECT_DOUBLE_EQ(bad.score, -1.5);  // wrong and unparseable
    // DAPO soft overlong punishment, worked example L_max = 20, L_cache = 4.
    EXPECT_DOUBLE_EQ(score("861", 16).score, 1.0);
    EXPECT_DOUBLE_EQ(score("861", 18).score, 0.5);
    EXPECT_DOUBLE_EQ(score("861", 20).score, 0.0);
    EXPECT_TRUE(score("861", 20).correct);  // correctness is kept apart from the shaped score
}

TEST(Shaping, OverlongPenaltyWorkedExamples) {
    EXPECT_DOUBLE_EQ(overlong_penalty(10, 20, 4, 1.0), 0.0);
    EXPECT_DOUBLE_EQ(overlong_penalty(16, 20, 4, 1.0), 0.0);
    EXPECT_DOUBLE_EQ(overlong_penalty(18, 20, 4, 1.0), -0.5);
    EXPECT_DOUBLE_EQ(overlong_penalty(20, 20, 4, 1.0), -1.0);
    EXPECT_DOUBLE_EQ(overlong_penalty(25, 20, 4, 1.0), -1.0);
    EXPECT_DOUBLE_EQ(overlong_penalty(18432, 20480, 4096, 1.0), -0.5);
    EXPECT_DOUBLE_EQ(overlong_penalty(18, 20, 4, 2.0), -1.0);
    EXPECT_DOUBLE_EQ(overlong_penalty(19, 20, 0, 1.0), 0.0);  // off
}

class ThrowingReward : public RewardFn {
   public:
    RewardResult score(const RewardInput&) const override { throw std::runtime_error("boom"); }
    std::string name() const override { return "throwing"; }
};

class SlowReward : public RewardFn {
   public:
    explicit SlowReward(std::shared_ptr<std::atomic<bool>> release) : release_(std::move(release)) {}
    RewardResult score(const RewardInput&) const override {
        while (!*release_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return {1.0, RewardStatus::ok, "", true};
    }
    std::string name() const override { return "slow"; }

   private:
    std::shared_ptr<std::atomic<bool>> release_;
};

TEST(Guard, ExceptionsBecomeStatusError) {
    auto fn = std::make_shared<const ThrowingReward>();
    for (double limit : {0.0, 5.0}) {
        RewardResult r = score_with_limit(fn, {}, limit);
        EXPECT_EQ(r.status, RewardStatus::error);
        EXPECT_EQ(r.detail, "throwing: boom");
        EXPECT_FALSE(r.correct);
    }
}

TEST(Guard, OverrunningRewardTimesOutWithoutBlockingTheCaller) {
    auto release = std::make_shared<std::atomic<bool>>(false);
    auto fn = std::make_shared<const SlowReward>(release);
    auto t0 = std::chrono::steady_clock::now();
    RewardResult r = score_with_limit(fn, {}, 0.05);
    double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.status, RewardStatus::timeout);
    EXPECT_STREQ(reward_status_name(r.status), "timeout");
    EXPECT_LT(waited, 2.0);
    *release = true;  // let the abandoned thread finish
    release->store(true);
    EXPECT_EQ(score_with_limit(fn, {}, 5.0).status, RewardStatus::ok);
}

}  // namespace
}  // namespace stride
