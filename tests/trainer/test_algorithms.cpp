// The trainer's algorithm pieces as pure functions, on the worked numbers of
// ../shared/spec/algorithms.md (KL estimators, RLOO, REINFORCE++, DAPO dynamic sampling, dual clip,
// GSPO, decoupled PPO, TIS/icepop (token and sequence level), VCPO ESS and OPOB, UloRL MPT masking, GAE and
// the value loss), their edge cases, and every loss gradient against finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "common/base/error.h"
#include "trainer/advantage.h"
#include "trainer/gae.h"
#include "trainer/importance.h"
#include "trainer/kl.h"
#include "trainer/mpt_mask.h"
#include "trainer/policy_loss.h"
#include "trainer/vcpo.h"

using namespace stride;

namespace {

// Central differences of f at x, one coordinate at a time.
std::vector<double> finite_differences(const std::function<double(const std::vector<float>&)>& f,
                                       const std::vector<float>& x, float h = 1e-3f) {
    std::vector<double> g(x.size());
    for (size_t t = 0; t < x.size(); ++t) {
        auto up = x, dn = x;
        up[t] += h;
        dn[t] -= h;
        g[t] = (f(up) - f(dn)) / (2.0 * h);
    }
    return g;
}

}  // namespace

// ---- KL estimators (§0.3) ------------------------------------------------------------------------

TEST(Kl, WorkedExample) {
    EXPECT_NEAR(kl_estimate(-1.0, -1.5, KlType::k1).value, 0.5, 1e-12);
    EXPECT_NEAR(kl_estimate(-1.0, -1.5, KlType::k2).value, 0.125, 1e-12);
    EXPECT_NEAR(kl_estimate(-1.0, -1.5, KlType::k3).value, 0.1065307, 1e-6);
    EXPECT_NEAR(kl_estimate(-2.0, -1.0, KlType::k1).value, -1.0, 1e-12);
    EXPECT_NEAR(kl_estimate(-2.0, -1.0, KlType::k2).value, 0.5, 1e-12);
    EXPECT_NEAR(kl_estimate(-2.0, -1.0, KlType::k3).value, 0.7182818, 1e-6);
    EXPECT_EQ(kl_estimate(-1.0, -1.0, KlType::k3).value, 0.0);
}

TEST(Kl, GradientMatchesFiniteDifferences) {
    for (KlType k : {KlType::k1, KlType::k2, KlType::k3}) {
        for (double lp : {-3.0, -1.2, -0.1}) {
            const double ref = -1.0, h = 1e-5;
            const double fd =
                (kl_estimate(lp + h, ref, k).value - kl_estimate(lp - h, ref, k).value) / (2 * h);
            EXPECT_NEAR(kl_estimate(lp, ref, k).grad, fd, 1e-6) << kl_type_name(k) << " at " << lp;
        }
    }
}

TEST(Kl, K3ClampsLikeVerl) {
    // d = -30: -d clamped to 20, value clamped to 10, no gradient through either clamp.
    const KlTerm far = kl_estimate(-31.0, -1.0, KlType::k3);
    EXPECT_EQ(far.value, 10.0);
    EXPECT_EQ(far.grad, 0.0);
    EXPECT_TRUE(std::isfinite(kl_estimate(-1.0, -200.0, KlType::k3).value));
    EXPECT_THROW(kl_type_from_name("k4"), Error);
}

// ---- advantages (§5, §3.2, §7.3) -----------------------------------------------------------------

TEST(Rloo, WorkedExampleAndEdges) {
    auto a = rloo_advantages({1, 0, 0, 0}, {0, 0, 0, 0});
    EXPECT_NEAR(a[0], 1.0, 1e-12);
    for (int i = 1; i < 4; ++i) EXPECT_NEAR(a[i], -1.0 / 3.0, 1e-12);
    // All-equal group, single-member group: 0.
    auto b = rloo_advantages({1, 1, 1, 5}, {3, 3, 3, 8});
    for (double x : b) EXPECT_EQ(x, 0.0);
    EXPECT_THROW(rloo_advantages({1}, {}), Error);
}

TEST(ReinforcePp, WorkedExamples) {
    // Four 1-token responses, groups {a,b} = {1,0}, {c,d} = {1,1}.
    auto a = reinforce_pp_advantages({1, 0, 1, 1}, {1, 1, 1, 1});
    const double expect[] = {0.5, -1.5, 0.5, 0.5};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(a[i], expect[i], 1e-6);
    auto b = reinforce_pp_baseline_advantages({1, 0, 1, 1}, {0, 0, 1, 1}, {1, 1, 1, 1});
    const double expect_b[] = {1.224745, -1.224745, 0, 0};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(b[i], expect_b[i], 1e-6);
    // Multi-token: lengths 2 (reward 1) and 3 (reward 0) -> returns [1,1,0,0,0].
    auto c = reinforce_pp_advantages({1, 0}, {2, 3});
    ASSERT_EQ(c.size(), 5u);
    for (int t = 0; t < 2; ++t) EXPECT_NEAR(c[t], 1.095445, 1e-6);
    for (int t = 2; t < 5; ++t) EXPECT_NEAR(c[t], -0.730297, 1e-6);
}

TEST(ReinforcePp, KlInRewardAndDiscount) {
    // One 3-token response, score 1, per-token penalties [0.1, 0.2, 0.3], gamma 0.5:
    // r = [-0.1, -0.2, 0.7] -> G = [-0.1 + 0.5 * 0.15, -0.2 + 0.5 * 0.7, 0.7] = [-0.025, 0.15, 0.7],
    // plus a second 1-token response with score 0 (G = 0) so the whitening has something to compare.
    auto a = reinforce_pp_advantages({1, 0}, {3, 1}, {0.1, 0.2, 0.3, 0.0}, 0.5);
    auto w = whiten({-0.025, 0.15, 0.7, 0.0});
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(a[i], w[i], 1e-12);
    EXPECT_THROW(reinforce_pp_advantages({1}, {2}, {0.1}), Error);
}

TEST(ReinforcePp, EdgeCases) {
    // All-equal returns (std 0): every advantage is exactly 0. Zero-length responses carry no token.
    for (double x : reinforce_pp_advantages({1, 1, 1}, {2, 0, 1})) EXPECT_EQ(x, 0.0);
    EXPECT_EQ(reinforce_pp_advantages({1, 0}, {2, 0}).size(), 2u);
    // A single valid token: no unbiased variance; centred only -> 0.
    auto one = reinforce_pp_advantages({1}, {1});
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0], 0.0);
    EXPECT_TRUE(reinforce_pp_advantages({}, {}).empty());
}

TEST(DynamicSampling, KeepsOnlyGroupsWithSpread) {
    // acc [1,1,1,1] and [0,0,0,0] dropped, [1,0,0,0] kept, a single-member group kept.
    auto f = dynamic_sampling_filter({1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1},
                                     {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3});
    EXPECT_EQ(f.groups, 4);
    EXPECT_EQ(f.kept_groups, 2);
    for (int i = 0; i < 8; ++i) EXPECT_FALSE(f.keep[i]);
    for (int i = 8; i < 13; ++i) EXPECT_TRUE(f.keep[i]);
    EXPECT_EQ(dynamic_sampling_filter({}, {}).kept_groups, 0);
}

TEST(DynamicSampling, ReplacementRequests) {
    // One per dropped group without oversampling, whatever the keep rate.
    EXPECT_EQ(dynamic_sampling_requests(4, 2, 3, 0.25, false), 3);
    EXPECT_EQ(dynamic_sampling_requests(0, 0, 3, 0.25, false), 0);  // the step is full
    // Oversampling: 4 missing at a keep rate of 1/4 need 16 back; 2 are on their way, ask for 14.
    EXPECT_EQ(dynamic_sampling_requests(4, 2, 1, 0.25, true), 14);
    // 3 missing at 0.3: 10 needed (3 / 0.3 is 10 up to rounding, not 11).
    EXPECT_EQ(dynamic_sampling_requests(3, 0, 1, 0.3, true), 10);
    // Nothing dropped so far (keep rate 1): exactly the missing groups not yet requested.
    EXPECT_EQ(dynamic_sampling_requests(3, 1, 0, 1.0, true), 2);
    EXPECT_EQ(dynamic_sampling_requests(3, 5, 0, 1.0, true), 0);  // enough on their way
    // Nothing kept yet: the rate is floored at kMinKeepRate, so 2 missing ask for 20, not infinity.
    EXPECT_EQ(dynamic_sampling_requests(2, 0, 4, 0.0, true), static_cast<long>(2 / kMinKeepRate + 0.5));
    EXPECT_EQ(dynamic_sampling_requests(0, 0, 4, 0.0, true), 0);
}

TEST(Opob, WorkedExample) {
    // R = [1,0,0,0], |g|^2 = [1,4,1,1], w = [1,1,2,1] -> W = [1,4,4,1] -> b = 0.1.
    auto a = opob_advantages({1, 0, 0, 0}, {0, 0, 0, 0}, {1, 4, 1, 1}, {1, 1, 2, 1});
    EXPECT_NEAR(a[0], 0.9, 1e-6);
    for (int i = 1; i < 4; ++i) EXPECT_NEAR(a[i], -0.1, 1e-6);
    auto s = opob_advantages({1, 0, 0, 0}, {0, 0, 0, 0}, {1, 4, 1, 1}, {1, 1, 2, 1}, true);
    EXPECT_NEAR(s[0], 2.078461, 1e-6);
    for (int i = 1; i < 4; ++i) EXPECT_NEAR(s[i], -0.230940, 1e-6);
}

TEST(Opob, EdgeCases) {
    // All W = 0 -> b = 0 (A = R); all-equal rewards -> A ~ 0 for any positive weights.
    auto z = opob_advantages({1, 0}, {0, 0}, {0, 0}, {1, 1});
    EXPECT_NEAR(z[0], 1.0, 1e-12);
    auto e = opob_advantages({1, 1, 1}, {0, 0, 0}, {1, 2, 3}, {1, 0.5, 2}, true);
    for (double x : e) EXPECT_NEAR(x, 0.0, 1e-8);
}

// ---- policy losses (§1.3, §4.1, §6, §9) ----------------------------------------------------------

TEST(DualClip, WorkedExample) {
    // (r, A): (1.5,+1) -> -1.2; (0.5,+1) -> -0.5; (0.5,-1) -> 0.8; (5,-1) -> 3.0 (dual); (1.1,-2) -> 2.2.
    const std::vector<float> r = {1.5f, 0.5f, 0.5f, 5.0f, 1.1f}, A = {1, 1, -1, -1, -2};
    std::vector<float> lp;
    for (float x : r) lp.push_back(std::log(x));
    PolicyLossOptions o;
    o.dual_clip = 3.0f;
    auto res = ppo_clip_loss(lp, std::vector<float>(5, 0.0f), A, {5}, o);
    EXPECT_NEAR(res.loss, 0.86, 1e-6);
    EXPECT_NEAR(res.clip_frac_low + res.clip_frac_high, 0.4, 1e-12);
    EXPECT_NEAR(res.clip_frac_dual, 0.2, 1e-12);
    EXPECT_NEAR(res.approx_kl_k1, -0.1447838, 1e-6);
    EXPECT_EQ(res.grad_logprob[3], 0.0f);  // the dual-clipped token carries no gradient
    EXPECT_NEAR(res.grad_logprob[4], -(-2.0) * 1.1 / 5, 1e-6);
    // Without dual clip the exploded token keeps its loss of 5.
    o.dual_clip = 0;
    EXPECT_NEAR(ppo_clip_loss(lp, std::vector<float>(5, 0.0f), A, {5}, o).loss, 6.3 / 5, 1e-6);
    o.dual_clip = 0.5f;
    EXPECT_THROW(ppo_clip_loss(lp, std::vector<float>(5, 0.0f), A, {5}, o), Error);
}

TEST(PpoTokenLoss, GradientMatchesFiniteDifferences) {
    // Dual clip, importance weights and a mask together, every aggregation mode.
    const std::vector<float> old = {-1.0f, -2.0f, -0.5f, -3.0f, -1.5f, -0.7f};
    const std::vector<float> lp = {-1.05f, -1.9f, -0.52f, -1.8f, -1.6f, -0.69f};  // token 3: r = 3.3, A < 0
    const std::vector<float> adv = {0.7f, 0.7f, -1.2f, -1.2f, 0.3f, 0.3f};
    const std::vector<float> isw = {1.0f, 0.5f, 2.0f, 1.0f, 0.0f, 1.5f};
    const std::vector<unsigned char> mask = {0, 0, 0, 0, 0, 1};
    const std::vector<int> lens = {2, 2, 2};
    for (LossAgg agg : {LossAgg::token_mean, LossAgg::seq_mean_token_mean, LossAgg::seq_mean_token_sum,
                        LossAgg::seq_mean_token_sum_norm}) {
        const auto w = aggregation_weights(lens, agg, 4.0f);
        auto loss = [&](const std::vector<float>& x, std::vector<float>* grad) {
            std::vector<float> g(x.size());
            TokenLossSlice in;
            in.logprob = x.data(), in.old_logprob = old.data(), in.advantage = adv.data(),
            in.weight = w.data();
            in.is_weight = isw.data(), in.mask = mask.data(), in.n = static_cast<int>(x.size());
            auto s = ppo_clip_token_loss(in, {0.2f, 0.28f, 3.0f}, g.data());
            if (grad) *grad = g;
            return s;
        };
        std::vector<float> g;
        auto s = loss(lp, &g);
        EXPECT_EQ(s.dual_clipped, 1);
        EXPECT_EQ(s.masked, 2);  // is_weight 0 and mask 1
        auto fd = finite_differences([&](const std::vector<float>& x) { return loss(x, nullptr).loss; }, lp);
        for (size_t t = 0; t < lp.size(); ++t)
            EXPECT_NEAR(g[t], fd[t], 1e-4) << loss_agg_name(agg) << " " << t;
    }
}

TEST(PpoTokenLoss, MaskedTokensOnlyGiveZeroLossAndGradient) {
    const std::vector<float> lp = {-1, -2}, old = {-1.5f, -1}, adv = {1, -1}, w = {0.5f, 0.5f};
    const std::vector<unsigned char> mask = {1, 1};
    std::vector<float> g(2, 7.0f);
    TokenLossSlice in;
    in.logprob = lp.data(), in.old_logprob = old.data(), in.advantage = adv.data(), in.weight = w.data();
    in.mask = mask.data(), in.n = 2;
    auto s = ppo_clip_token_loss(in, {}, g.data());
    EXPECT_EQ(s.loss, 0.0);
    EXPECT_EQ(g[0], 0.0f);
    EXPECT_EQ(g[1], 0.0f);
    EXPECT_EQ(s.masked, 2);
    EXPECT_EQ(s.tokens, 2);
}

TEST(Gspo, WorkedExample) {
    // Token log-ratios [0.1, -0.2, 0.4] -> mean 0.1 -> s = 1.1051709; A = +1.
    const std::vector<float> lp = {0.1f, -0.2f, 0.4f}, old = {0, 0, 0}, adv = {1, 1, 1};
    PolicyLossOptions o;
    o.agg = LossAgg::seq_mean_token_mean;
    o.clip_low = 3e-4f;
    o.clip_high = 4e-4f;
    auto tight = gspo_loss(lp, old, adv, {3}, o);
    EXPECT_NEAR(tight.loss, -1.0004, 1e-6);
    for (float g : tight.grad_logprob) EXPECT_EQ(g, 0.0f);
    EXPECT_NEAR(tight.clip_frac_high, 1.0, 1e-12);
    o.clip_low = o.clip_high = 0.2f;
    auto wide = gspo_loss(lp, old, adv, {3}, o);
    EXPECT_NEAR(wide.loss, -1.1051709, 1e-6);
    for (float g : wide.grad_logprob) EXPECT_NEAR(g, -1.1051709 / 3, 1e-6);
}

TEST(Gspo, GradientMatchesFiniteDifferencesOfTheSequenceLoss) {
    const std::vector<float> old = {-1.0f, -2.0f, -0.5f, -3.0f, -1.5f};
    const std::vector<float> lp = {-1.05f, -1.9f, -0.52f, -2.97f, -1.6f};
    const std::vector<float> adv = {0.7f, 0.7f, -1.2f, -1.2f, -1.2f};
    const std::vector<int> lens = {2, 3, 0};  // a zero-length response is left out of B'
    for (LossAgg agg : {LossAgg::seq_mean_token_mean, LossAgg::token_mean}) {
        PolicyLossOptions o;
        o.agg = agg;
        auto base = gspo_loss(lp, old, adv, lens, o);
        auto fd = finite_differences(
            [&](const std::vector<float>& x) { return gspo_loss(x, old, adv, lens, o).loss; }, lp);
        for (size_t t = 0; t < lp.size(); ++t) EXPECT_NEAR(base.grad_logprob[t], fd[t], 1e-4) << t;
    }
}

TEST(DecoupledPpo, WorkedExample) {
    // log mu = -1.0, log prox = -0.9, log theta = -0.7, A = +1: w = e^0.1, u = e^0.2 clipped to 1.2.
    const float behav = -1.0f, prox = -0.9f, theta = -0.7f, A = 1.0f, weight = 1.0f;
    float w = 0;
    importance_weights(&prox, &behav, 1, {IsCorrection::mask, 5.0, 0.0}, &w);
    EXPECT_NEAR(w, 1.1051709, 1e-6);
    TokenLossSlice in;
    in.logprob = &theta, in.old_logprob = &prox, in.advantage = &A, in.weight = &weight, in.is_weight = &w;
    in.n = 1;
    float g = 1;
    auto s = ppo_clip_token_loss(in, {}, &g);
    EXPECT_NEAR(s.loss, -1.3262051, 1e-6);
    EXPECT_EQ(g, 0.0f);
    // w = 6 > 5 with the mask action: no loss, but the token stays in the denominator (weights).
    const float prox6 = behav + std::log(6.0f), theta2[2] = {-0.7f, -0.7f}, prox2[2] = {prox6, -0.7f};
    const float behav2[2] = {behav, -0.7f}, A2[2] = {1, 1}, w2[2] = {0.5f, 0.5f};
    float isw[2], g2[2];
    auto st = importance_weights(prox2, behav2, 2, {IsCorrection::mask, 5.0, 0.0}, isw);
    EXPECT_EQ(isw[0], 0.0f);
    EXPECT_EQ(st.rejected, 1);
    in.logprob = theta2, in.old_logprob = prox2, in.advantage = A2, in.weight = w2, in.is_weight = isw,
    in.n = 2;
    auto s2 = ppo_clip_token_loss(in, {}, g2);
    EXPECT_NEAR(s2.loss, -0.5, 1e-6);  // only token 1, still divided by both tokens
    EXPECT_EQ(s2.masked, 1);
}

TEST(Tis, WorkedExample) {
    // rho = [0.5, 1, 3].
    const float behav[3] = {0, 0, 0};
    const float prox[3] = {std::log(0.5f), 0.0f, std::log(3.0f)};
    float w[3];
    auto st = importance_weights(prox, behav, 3, {IsCorrection::truncate, 2.0, 0.0}, w);
    EXPECT_NEAR(w[0], 0.5, 1e-6);
    EXPECT_NEAR(w[1], 1.0, 1e-6);
    EXPECT_NEAR(w[2], 2.0, 1e-6);
    EXPECT_EQ(st.truncated, 1);
    EXPECT_NEAR(token_ess_fraction({w[0], w[1], w[2]}), 0.777778, 1e-6);
    importance_weights(prox, behav, 3, {IsCorrection::mask, 2.0, 0.5}, w);  // icepop [0.5, 2]
    EXPECT_NEAR(w[0], 0.5, 1e-6);
    EXPECT_NEAR(w[1], 1.0, 1e-6);
    EXPECT_EQ(w[2], 0.0f);
    const double log_seq = sequence_log_ratio(prox, behav, 3);
    EXPECT_NEAR(std::exp(log_seq), 1.5, 1e-6);
    EXPECT_NEAR(std::exp(log_seq / 3), 1.1447142, 1e-6);
    importance_weights(prox, behav, 3, {}, w);  // none
    for (float x : w) EXPECT_EQ(x, 1.0f);
}

TEST(Tis, NonFiniteLogProbs) {
    // The engine reports -inf for a token: ratio clamps (log 20) and is truncated to the cap; -inf on
    // both sides counts as ratio 1.
    const float inf = std::numeric_limits<float>::infinity();
    const float behav[2] = {-inf, -inf}, prox[2] = {-1.0f, -inf};
    float w[2];
    importance_weights(prox, behav, 2, {IsCorrection::truncate, 2.0, 0.0}, w);
    EXPECT_EQ(w[0], 2.0f);
    EXPECT_EQ(w[1], 1.0f);
    EXPECT_EQ(sequence_log_ratio(prox + 1, behav + 1, 1), 0.0);
    EXPECT_EQ(token_ess_fraction({0.0f, 0.0f}), 0.0);
}

TEST(PpoLossWithTis, GradientScalesByTheWeight) {
    // TIS multiplies loss and gradient by the detached weight (after clipping).
    const std::vector<float> lp = {-1.0f}, old = {-1.0f}, adv = {2.0f}, w = {1.0f}, isw = {0.25f};
    float g = 0;
    TokenLossSlice in;
    in.logprob = lp.data(), in.old_logprob = old.data(), in.advantage = adv.data(), in.weight = w.data();
    in.is_weight = isw.data(), in.n = 1;
    auto s = ppo_clip_token_loss(in, {}, &g);
    EXPECT_NEAR(s.loss, -0.5, 1e-6);
    EXPECT_NEAR(g, -0.5, 1e-6);
}

TEST(SequenceTis, WorkedExample) {
    // One weight per response, w = exp(sum_t (log prox_t - log mu_t)), on every token of it (§9.3, §7.4).
    const IsOptions trunc8{IsCorrection::truncate, 8.0, 0.0, IsLevel::sequence};
    const IsOptions mask8{IsCorrection::mask, 8.0, 0.0, IsLevel::sequence};
    float w[3];
    // Log-ratios [0.5, -0.25, 1.0] -> sum 1.25 -> w = e^1.25 = 3.4903430 < 8: kept as is.
    const float prox_a[3] = {-0.5f, -2.25f, -0.25f}, behav_a[3] = {-1.0f, -2.0f, -1.25f};
    IsStats st = importance_weights(prox_a, behav_a, 3, trunc8, w);
    for (float x : w) EXPECT_NEAR(x, 3.4903430, 1e-6);
    EXPECT_EQ(st.truncated, 0);
    EXPECT_NEAR(st.sum, 3 * 3.4903430, 1e-6);
    importance_weights(prox_a, behav_a, 3, mask8, w);
    for (float x : w) EXPECT_NEAR(x, 3.4903430, 1e-6);
    // Log-ratios [1.0, 0.75, 0.75] -> sum 2.5 -> e^2.5 = 12.1824940 > 8: truncated to 8 on every token
    // (truncated counts the 3 tokens), or the whole response dropped with the mask action. Token
    // level would cap nothing: [e^1, e^0.75, e^0.75] = [2.7182818, 2.1170000, 2.1170000].
    const float prox_b[3] = {-0.25f, -0.5f, -0.25f}, behav_b[3] = {-1.25f, -1.25f, -1.0f};
    st = importance_weights(prox_b, behav_b, 3, trunc8, w);
    for (float x : w) EXPECT_NEAR(x, 8.0, 1e-6);
    EXPECT_EQ(st.truncated, 3);
    st = importance_weights(prox_b, behav_b, 3, mask8, w);
    for (float x : w) EXPECT_EQ(x, 0.0f);
    EXPECT_EQ(st.rejected, 3);
    importance_weights(prox_b, behav_b, 3, {IsCorrection::truncate, 8.0, 0.0}, w);
    EXPECT_NEAR(w[0], 2.7182818, 1e-6);
    EXPECT_NEAR(w[1], 2.1170000, 1e-6);
    EXPECT_NEAR(w[2], 2.1170000, 1e-6);
    // Lower bound 0.5: log-ratios [-0.5, -0.5] -> e^-1 = 0.3678794 -> 0.5 (truncate) or dropped (mask).
    const float prox_c[2] = {-1.5f, -1.5f}, behav_c[2] = {-1.0f, -1.0f};
    importance_weights(prox_c, behav_c, 2, {IsCorrection::truncate, 8.0, 0.5, IsLevel::sequence}, w);
    EXPECT_NEAR(w[0], 0.5, 1e-6);
    EXPECT_NEAR(w[1], 0.5, 1e-6);
    importance_weights(prox_c, behav_c, 2, {IsCorrection::mask, 8.0, 0.5, IsLevel::sequence}, w);
    EXPECT_EQ(w[0], 0.0f);
    importance_weights(prox_c, behav_c, 2, {IsCorrection::truncate, 8.0, 0.0, IsLevel::sequence}, w);
    EXPECT_NEAR(w[0], 0.3678794, 1e-6);  // no lower bound
    // A masked token (m_t = 0): both policies give it log-prob -inf, so it adds nothing to the sum:
    // [0.5, (masked), 1.0] -> e^1.5 = 4.4816891.
    const float inf = std::numeric_limits<float>::infinity();
    const float prox_d[3] = {-0.5f, -inf, -0.25f}, behav_d[3] = {-1.0f, -inf, -1.25f};
    importance_weights(prox_d, behav_d, 3, trunc8, w);
    for (float x : w) EXPECT_NEAR(x, 4.4816891, 1e-6);
    // The weight multiplies every token loss of the response: A = +1 at ratio 1, seq-mean-token-mean
    // weights 1/3 -> loss = -e^1.25 = -3.4903430, d loss / d logprob_t = -e^1.25 / 3 = -1.1634477.
    importance_weights(prox_a, behav_a, 3, trunc8, w);
    const float adv[3] = {1, 1, 1};
    const auto agg = aggregation_weights({3}, LossAgg::seq_mean_token_mean);
    TokenLossSlice in;
    in.logprob = prox_a, in.old_logprob = prox_a, in.advantage = adv, in.weight = agg.data(),
    in.is_weight = w;
    in.n = 3;
    float g[3];
    const PolicyLossSums ls = ppo_clip_token_loss(in, {}, g);
    EXPECT_NEAR(ls.loss, -3.4903430, 1e-6);
    for (float x : g) EXPECT_NEAR(x, -1.1634477, 1e-6);
    // Off: weight 1.
    importance_weights(prox_b, behav_b, 3, {IsCorrection::none, 8.0, 0.0, IsLevel::sequence}, w);
    for (float x : w) EXPECT_EQ(x, 1.0f);
}

TEST(SequenceTis, LongResponsesDoNotOverflow) {
    // 400 tokens at the +-20 clamp: log w = +-8000, far outside double range; no inf or NaN.
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> behav(400, -inf), prox(400, -1.0f), low_prox(400, -60.0f), mid(400, -40.0f);
    std::vector<float> w(400);
    IsStats st = importance_weights(prox.data(), behav.data(), 400,
                                    {IsCorrection::truncate, 8.0, 0.0, IsLevel::sequence}, w.data());
    for (float x : w) EXPECT_EQ(x, 8.0f);
    EXPECT_EQ(st.truncated, 400);
    importance_weights(prox.data(), behav.data(), 400, {IsCorrection::mask, 8.0, 0.0, IsLevel::sequence},
                       w.data());
    for (float x : w) EXPECT_EQ(x, 0.0f);
    st = importance_weights(low_prox.data(), mid.data(), 400,
                            {IsCorrection::truncate, 8.0, 0.0, IsLevel::sequence}, w.data());
    for (float x : w) EXPECT_EQ(x, 0.0f);  // e^-8000 underflows to 0: the response carries no loss
    EXPECT_TRUE(std::isfinite(st.sum));
    importance_weights(low_prox.data(), mid.data(), 400,
                       {IsCorrection::truncate, 8.0, 0.25, IsLevel::sequence}, w.data());
    for (float x : w) EXPECT_EQ(x, 0.25f);
    EXPECT_EQ(is_level_from_name("sequence"), IsLevel::sequence);
    EXPECT_THROW(is_level_from_name("seq"), Error);
}

TEST(SequenceTis, WeightedLossGradientMatchesFiniteDifferences) {
    // Three responses with sequence weights 3.4903430 (kept), 8 (truncated from e^2.5) and 0.5 (raised
    // from e^-1), a masked token, clipping and dual clip: the weights are constants of the current
    // log-probs, so the gradient is the PPO gradient times each response's weight.
    const std::vector<float> prox = {-0.5f, -2.25f, -0.25f, -0.25f, -0.5f, -2.5f, -1.5f, -1.5f};
    const std::vector<float> behav = {-1.0f, -2.0f, -1.25f, -1.25f, -1.25f, -3.25f, -1.0f, -1.0f};
    // Token 5: ratio e^1.3 > 3 with A < 0 (dual clip); token 6: ratio e^1.1 > 1.28 with A > 0 (clipped).
    const std::vector<float> lp = {-0.45f, -2.3f, -0.2f, -0.1f, -0.55f, -1.2f, -0.4f, -1.45f};
    const std::vector<float> adv = {0.7f, 0.7f, 0.7f, -1.2f, -1.2f, -1.2f, 0.4f, 0.4f};
    const std::vector<unsigned char> mask = {0, 0, 1, 0, 0, 0, 0, 0};
    const std::vector<int> lens = {3, 3, 2};
    const IsOptions opt{IsCorrection::truncate, 8.0, 0.5, IsLevel::sequence};
    std::vector<float> isw(prox.size());
    for (int i = 0, off = 0; i < 3; off += lens[i++])
        importance_weights(prox.data() + off, behav.data() + off, lens[i], opt, isw.data() + off);
    const std::vector<double> expect = {3.4903430, 3.4903430, 3.4903430, 8, 8, 8, 0.5, 0.5};
    for (size_t t = 0; t < isw.size(); ++t) EXPECT_NEAR(isw[t], expect[t], 1e-6) << t;
    for (LossAgg agg : {LossAgg::token_mean, LossAgg::seq_mean_token_mean}) {
        const auto w = aggregation_weights(lens, agg);
        auto loss = [&](const std::vector<float>& x, const float* is_weight, std::vector<float>* grad) {
            std::vector<float> g(x.size());
            TokenLossSlice in;
            in.logprob = x.data(), in.old_logprob = prox.data(), in.advantage = adv.data(),
            in.weight = w.data();
            in.is_weight = is_weight, in.mask = mask.data(), in.n = static_cast<int>(x.size());
            auto s = ppo_clip_token_loss(in, {0.2f, 0.28f, 3.0f}, g.data());
            if (grad) *grad = g;
            return s;
        };
        std::vector<float> g, g_plain;
        const PolicyLossSums s = loss(lp, isw.data(), &g);
        EXPECT_EQ(s.dual_clipped, 1);
        EXPECT_EQ(s.clipped_high, 1);
        EXPECT_EQ(s.masked, 1);
        loss(lp, nullptr, &g_plain);
        auto fd = finite_differences(
            [&](const std::vector<float>& x) { return loss(x, isw.data(), nullptr).loss; }, lp);
        for (size_t t = 0; t < lp.size(); ++t) {
            EXPECT_NEAR(g[t], fd[t], 1e-4) << loss_agg_name(agg) << " " << t;
            EXPECT_NEAR(g[t], expect[t] * g_plain[t], 1e-6) << loss_agg_name(agg) << " " << t;
        }
        EXPECT_EQ(g[2], 0.0f);  // masked token
    }
}

// ---- VCPO (§7) -----------------------------------------------------------------------------------

TEST(Vcpo, EssWorkedExamples) {
    struct Case {
        std::vector<double> w;
        double ess, rho, lr;
    };
    const std::vector<Case> cases = {{{1, 1, 1, 1}, 4, 1.0, 1.0},
                                     {{4, 0, 0, 0}, 1, 0.25, 0.5},
                                     {{2, 1, 1, 0}, 2.666667, 0.666667, 0.816497},
                                     {{0.5, 0.5, 2, 1}, 2.909091, 0.727273, 0.852803}};
    for (const auto& c : cases) {
        std::vector<double> log_w;
        for (double x : c.w) log_w.push_back(std::log(x));  // log 0 = -inf
        const double ess = ess_from_log_weights(log_w);
        EXPECT_NEAR(ess, c.ess, 1e-6);
        EXPECT_NEAR(ess / c.w.size(), c.rho, 1e-6);
        EXPECT_NEAR(ess_lr_factor(ess / c.w.size(), EssLrScaling::sqrt), c.lr, 1e-6);
    }
    EXPECT_NEAR(ess_lr_factor(0.25, EssLrScaling::linear), 0.25, 1e-12);
    EXPECT_EQ(ess_lr_factor(0.25, EssLrScaling::off), 1.0);
}

TEST(Vcpo, EssEdgeCases) {
    const double ninf = -std::numeric_limits<double>::infinity();
    EXPECT_EQ(ess_from_log_weights({ninf, ninf}), 0.0);  // all weights 0: lr factor 0
    EXPECT_EQ(ess_lr_factor(0.0, EssLrScaling::sqrt), 0.0);
    EXPECT_EQ(ess_from_log_weights({}), 0.0);
    // Log-weights far beyond double range (long sequences) do not overflow.
    EXPECT_NEAR(ess_from_log_weights({5000.0, 5000.0}), 2.0, 1e-9);
    EXPECT_NEAR(ess_from_log_weights({5000.0, -5000.0}), 1.0, 1e-9);
}

// ---- UloRL MPT masking (§8.3) --------------------------------------------------------------------

TEST(MptMask, WorkedExample) {
    // Positive response, p = [0.995, 0.5, 0.999, 0.98], mean entropy 0.15 -> tokens 1 and 3 masked.
    std::vector<float> lp;
    for (double p : {0.995, 0.5, 0.999, 0.98}) lp.push_back(static_cast<float>(std::log(p)));
    const std::vector<float> low(4, 0.15f), high(4, 0.25f);
    auto m = mastered_positive_token_mask(lp, low, {4}, {1.0}, {});
    EXPECT_EQ(m, (std::vector<unsigned char>{1, 0, 1, 0}));
    EXPECT_EQ(mastered_positive_token_mask(lp, high, {4}, {1.0}, {}), std::vector<unsigned char>(4, 0));
    EXPECT_EQ(mastered_positive_token_mask(lp, low, {4}, {-1.0}, {}), std::vector<unsigned char>(4, 0));
    // The masked tokens still count in the denominator: 2 of 4 carry loss, each weighted 1/4.
    const auto w = aggregation_weights({4}, LossAgg::token_mean);
    const std::vector<float> zeros(4, 0.0f), adv(4, 1.0f);
    std::vector<float> g(4);
    TokenLossSlice in;
    in.logprob = zeros.data(), in.old_logprob = zeros.data(), in.advantage = adv.data(), in.weight = w.data();
    in.mask = m.data(), in.n = 4;
    EXPECT_NEAR(ppo_clip_token_loss(in, {}, g.data()).loss, -0.5, 1e-6);
}

TEST(MptMask, BatchGate) {
    // Response 0 (positive, entropy 0.1) and response 1 (negative, entropy 0.5): batch entropy 0.3 is
    // above the target, so the batch gate masks nothing; the per-response gate masks response 0.
    const std::vector<float> lp = {-0.001f, -0.001f, -0.001f}, H = {0.1f, 0.1f, 0.5f};
    MptOptions o;
    EXPECT_EQ(mastered_positive_token_mask(lp, H, {2, 1}, {1.0, -1.0}, o),
              (std::vector<unsigned char>{1, 1, 0}));
    o.batch_gate = true;
    EXPECT_EQ(mastered_positive_token_mask(lp, H, {2, 1}, {1.0, -1.0}, o),
              (std::vector<unsigned char>{0, 0, 0}));
    EXPECT_TRUE(mastered_positive_token_mask({}, {}, {0}, {1.0}, o).empty());
}

// ---- PPO critic pieces (§1.2, §1.4) --------------------------------------------------------------

TEST(Gae, WorkedExamples) {
    const std::vector<double> r = {0, 0, 1}, v = {0.5, 0.6, 0.7};
    auto a = gae(r, v, {}, 1.0, 0.95);
    const double A[] = {0.465750, 0.385000, 0.300000}, R[] = {0.965750, 0.985000, 1.0};
    const double W[] = {0.991344, 0.017092, -1.008436};
    auto w = whiten(a.advantages);
    for (int t = 0; t < 3; ++t) {
        EXPECT_NEAR(a.advantages[t], A[t], 1e-6);
        EXPECT_NEAR(a.returns[t], R[t], 1e-6);
        EXPECT_NEAR(w[t], W[t], 1e-6);
    }
    auto b = gae(r, v, {}, 1.0, 1.0);
    auto wb = whiten(b.advantages);
    for (int t = 0; t < 3; ++t) {
        EXPECT_NEAR(b.advantages[t], 0.5 - 0.1 * t, 1e-12);
        EXPECT_NEAR(b.returns[t], 1.0, 1e-12);
        EXPECT_NEAR(wb[t], 1.0 - t, 1e-6);
    }
    auto c = gae(r, v, {}, 0.9, 0.95);
    const double Ac[] = {0.284958, 0.286500, 0.300000}, Rc[] = {0.784958, 0.886500, 1.0};
    for (int t = 0; t < 3; ++t) {
        EXPECT_NEAR(c.advantages[t], Ac[t], 1e-6);
        EXPECT_NEAR(c.returns[t], Rc[t], 1e-6);
    }
}

TEST(Gae, MaskedTokensAreJumpedOver) {
    // An observation token between two valid ones changes nothing for the valid ones.
    auto a = gae({0, 0, 0, 1}, {0.5, 9.0, 0.6, 0.7}, {1, 0, 1, 1}, 1.0, 0.95);
    auto ref = gae({0, 0, 1}, {0.5, 0.6, 0.7}, {}, 1.0, 0.95);
    EXPECT_NEAR(a.advantages[0], ref.advantages[0], 1e-12);
    EXPECT_EQ(a.advantages[1], 0.0);
    EXPECT_NEAR(a.advantages[2], ref.advantages[1], 1e-12);
    // All equal advantages whiten to 0.
    for (double x : whiten({0.3, 0.3, 0.3})) EXPECT_EQ(x, 0.0);
}

TEST(ValueLoss, WorkedExampleAndGradient) {
    auto a = clipped_value_loss({1.2}, {0.5}, {1.0}, {1.0f}, 0.5);
    EXPECT_NEAR(a.loss, 0.02, 1e-9);
    EXPECT_EQ(a.clipped, 0);
    auto b = clipped_value_loss({1.2}, {0.5}, {2.0}, {1.0f}, 0.5);
    EXPECT_NEAR(b.loss, 0.5, 1e-9);
    EXPECT_EQ(b.clipped, 1);
    EXPECT_EQ(b.grad[0], 0.0);  // clipped branch, clamp active: constant
    const std::vector<double> v = {1.2, 0.3, 0.9}, old = {0.5, 0.5, 0.8}, R = {1.0, 2.0, 0.0};
    const std::vector<float> w = {0.5f, 0.25f, 0.25f};
    auto base = clipped_value_loss(v, old, R, w, 0.5);
    for (size_t t = 0; t < v.size(); ++t) {
        auto up = v, dn = v;
        up[t] += 1e-6;
        dn[t] -= 1e-6;
        const double fd =
            (clipped_value_loss(up, old, R, w, 0.5).loss - clipped_value_loss(dn, old, R, w, 0.5).loss) /
            2e-6;
        EXPECT_NEAR(base.grad[t], fd, 1e-6) << t;
    }
}
