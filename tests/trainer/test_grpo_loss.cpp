// GRPO advantages, PPO-clip loss and loss aggregation on the worked numbers of
// ../shared/spec/algorithms.md, plus the gradient checked against finite differences.
#include <gtest/gtest.h>

#include <cmath>

#include "common/base/error.h"
#include "trainer/advantage.h"
#include "trainer/policy_loss.h"

using namespace stride;

TEST(GroupAdvantages, WorkedExampleGrpo) {
    auto a = group_advantages({1, 0, 0, 0}, {7, 7, 7, 7});
    EXPECT_NEAR(a[0], 1.499997, 1e-6);
    for (int i = 1; i < 4; ++i) EXPECT_NEAR(a[i], -0.499999, 1e-6);
    auto b = group_advantages({1, 0, 0, 1}, {1, 1, 1, 1});
    EXPECT_NEAR(b[0], 0.866024, 1e-6);
    EXPECT_NEAR(b[1], -0.866024, 1e-6);
}

TEST(GroupAdvantages, DrGrpoHasNoStdDivision) {
    auto a = group_advantages({1, 0, 0, 0}, {3, 3, 3, 3}, {.divide_by_std = false});
    EXPECT_NEAR(a[0], 0.75, 1e-12);
    EXPECT_NEAR(a[3], -0.25, 1e-12);
}

TEST(GroupAdvantages, EdgeCases) {
    // All-equal rewards: exactly zero. A single response: zero. Groups are keyed by id, not position.
    auto a = group_advantages({1, 1, 1, 1, 5, 0, 1}, {0, 0, 0, 0, 9, 2, 2});
    for (int i = 0; i < 4; ++i) EXPECT_EQ(a[i], 0.0);
    EXPECT_EQ(a[4], 0.0);
    EXPECT_NEAR(a[5], -0.5 / (std::sqrt(0.5) + 1e-6), 1e-9);
    EXPECT_NEAR(a[6], 0.5 / (std::sqrt(0.5) + 1e-6), 1e-9);
    // Tiny but non-zero spread is amplified to O(1) (std normalisation is scale-invariant).
    auto t = group_advantages({1, 1, 1, 1 - 1e-3}, {0, 0, 0, 0});
    EXPECT_NEAR(t[3], -1.5, 1e-2);
    EXPECT_THROW(group_advantages({1, 2}, {0}), Error);
}

TEST(LossAggregation, WorkedExample) {
    // Sequence a: l = [1, 3]; sequence b: l = [1, 1, 1, 1].
    const std::vector<float> l = {1, 3, 1, 1, 1, 1};
    auto agg = [&](LossAgg mode, float l_norm = 0) {
        auto w = aggregation_weights({2, 4}, mode, l_norm);
        double s = 0;
        for (size_t i = 0; i < l.size(); ++i) s += w[i] * l[i];
        return s;
    };
    EXPECT_NEAR(agg(LossAgg::token_mean), 8.0 / 6.0, 1e-6);
    EXPECT_NEAR(agg(LossAgg::seq_mean_token_mean), 1.5, 1e-6);
    EXPECT_NEAR(agg(LossAgg::seq_mean_token_sum), 4.0, 1e-6);
    EXPECT_NEAR(agg(LossAgg::seq_mean_token_sum_norm, 4), 1.0, 1e-6);  // TRL dr_grpo: 8 / (2 * 4)
}

TEST(LossAggregation, EmptySequencesLeftOutOfTheSequenceCount) {
    auto w = aggregation_weights({0, 2, 0}, LossAgg::seq_mean_token_mean);
    ASSERT_EQ(w.size(), 2u);
    EXPECT_FLOAT_EQ(w[0], 0.5f);
    EXPECT_TRUE(aggregation_weights({0, 0}, LossAgg::token_mean).empty());
    EXPECT_THROW(aggregation_weights({1}, LossAgg::seq_mean_token_sum_norm, 0), Error);
    EXPECT_THROW(loss_agg_from_name("mean"), Error);
}

// DAPO overlong filtering: sequence b = [9, 9, 9] is truncated and leaves the loss; a = [1, 3] and
// c = [2] share it as if b were not there (token mean 6 / 3 = 2; sequence mean (2 + 2) / 2 = 2), except
// for Dr.GRPO's constant normaliser B * L_norm = 3 * 4.
TEST(LossAggregation, ExcludedSequencesLeaveTheLossAndItsCounts) {
    const std::vector<float> l = {1, 3, 9, 9, 9, 2};
    const std::vector<bool> out = {false, true, false};
    auto agg = [&](LossAgg mode, float l_norm = 0) {
        auto w = aggregation_weights_excluding({2, 3, 1}, out, mode, l_norm);
        EXPECT_EQ(w.size(), l.size());
        for (int t = 2; t < 5; ++t) EXPECT_EQ(w[t], 0.0f) << t;
        double s = 0;
        for (size_t i = 0; i < l.size(); ++i) s += w[i] * l[i];
        return s;
    };
    EXPECT_NEAR(agg(LossAgg::token_mean), 2.0, 1e-6);
    EXPECT_NEAR(agg(LossAgg::seq_mean_token_mean), 2.0, 1e-6);
    EXPECT_NEAR(agg(LossAgg::seq_mean_token_sum), 3.0, 1e-6);
    EXPECT_NEAR(agg(LossAgg::seq_mean_token_sum_norm, 4), 6.0 / 12.0, 1e-6);
    // Nothing excluded: the plain weights. Everything excluded: all zero.
    EXPECT_EQ(aggregation_weights_excluding({2, 3, 1}, {false, false, false}, LossAgg::token_mean),
              aggregation_weights({2, 3, 1}, LossAgg::token_mean));
    for (float w : aggregation_weights_excluding({2, 1}, {true, true}, LossAgg::token_mean))
        EXPECT_EQ(w, 0.0f);
    EXPECT_THROW(aggregation_weights_excluding({2, 1}, {true}, LossAgg::token_mean), Error);
}

TEST(PpoClipLoss, ClipHigherWorkedExample) {
    auto loss_at = [](float ratio, float A, float lo, float hi) {
        PolicyLossOptions o;
        o.clip_low = lo;
        o.clip_high = hi;
        return ppo_clip_loss({std::log(ratio)}, {0.0f}, {A}, {1}, o).loss;
    };
    EXPECT_NEAR(loss_at(1.25f, 1, 0.2f, 0.28f), -1.25, 1e-6);
    EXPECT_NEAR(loss_at(1.25f, 1, 0.2f, 0.2f), -1.2, 1e-6);
    EXPECT_NEAR(loss_at(1.3f, 1, 0.2f, 0.28f), -1.28, 1e-6);
    EXPECT_NEAR(loss_at(0.75f, -1, 0.2f, 0.28f), 0.8, 1e-6);
    EXPECT_NEAR(loss_at(0.75f, -1, 0.2f, 0.2f), 0.8, 1e-6);
}

TEST(PpoClipLoss, ClippedTokensHaveNoGradientAndAreCounted) {
    PolicyLossOptions o;  // 0.2 / 0.2
    // token 0: A>0, r=1.5 -> clipped high; token 1: A<0, r=0.5 -> clipped low; token 2: inside.
    auto r = ppo_clip_loss({std::log(1.5f), std::log(0.5f), 0.0f}, {0, 0, 0}, {1, -1, 2}, {3}, o);
    EXPECT_EQ(r.grad_logprob[0], 0.0f);
    EXPECT_EQ(r.grad_logprob[1], 0.0f);
    EXPECT_NEAR(r.grad_logprob[2], -2.0 / 3.0, 1e-6);
    EXPECT_NEAR(r.clip_frac_high, 1.0 / 3.0, 1e-6);
    EXPECT_NEAR(r.clip_frac_low, 1.0 / 3.0, 1e-6);
}

TEST(PpoClipLoss, GradientMatchesFiniteDifferences) {
    const std::vector<float> old = {-1.0f, -2.0f, -0.5f, -3.0f, -1.5f};
    std::vector<float> lp = {-1.05f, -1.9f, -0.52f, -2.97f, -1.6f};
    const std::vector<float> adv = {0.7f, 0.7f, -1.2f, -1.2f, 0.3f};
    const std::vector<int> lens = {2, 2, 1};
    for (LossAgg agg : {LossAgg::token_mean, LossAgg::seq_mean_token_mean, LossAgg::seq_mean_token_sum}) {
        PolicyLossOptions o;
        o.agg = agg;
        auto base = ppo_clip_loss(lp, old, adv, lens, o);
        for (size_t t = 0; t < lp.size(); ++t) {
            const float h = 1e-3f;
            auto up = lp, dn = lp;
            up[t] += h;
            dn[t] -= h;
            double fd =
                (ppo_clip_loss(up, old, adv, lens, o).loss - ppo_clip_loss(dn, old, adv, lens, o).loss) /
                (2 * h);
            EXPECT_NEAR(base.grad_logprob[t], fd, 1e-4) << loss_agg_name(agg) << " token " << t;
        }
    }
}

TEST(PpoClipLoss, OnPolicyApproxKlIsZero) {
    auto r = ppo_clip_loss({-1, -2}, {-1, -2}, {1, 1}, {2}, {});
    EXPECT_NEAR(r.approx_kl, 0.0, 1e-12);
    EXPECT_NEAR(r.loss, -1.0, 1e-6);
}
