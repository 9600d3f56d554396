// The RL step through the real engine: the update moves probability toward rewarded responses,
// micro-batching does not change the update (aggregation is over the whole batch), and SFT lowers
// its loss.
#include <gtest/gtest.h>

#include <cmath>

#include "model/transformer.h"
#include "tests/trainer/rl_test_util.h"
#include "trainer/rl_step.h"
#include "trainer/sft.h"

using namespace stride;

namespace {

using namespace stride::test;

// One step of `opt` on a fresh model; every rewarded response must become more likely and every
// unrewarded one less. Returns the step's metrics.
StepMetrics expect_moves_toward_rewarded(const RlStepOptions& opt, const std::string& name) {
    Model m(tiny_config());
    model_init_random(m, 11);
    auto batch = make_batch(m);
    std::vector<double> before;
    for (const auto& e : batch) before.push_back(sequence_logprob(m, e.prompt, e.response));
    AdamWConfig ac;
    ac.lr = 1e-2f;
    ac.weight_decay = 0;
    RlTrainer rl(m, ac, constant_lr(ac.lr));
    StepMetrics metrics = rl.step(batch, opt, 0);
    for (size_t i = 0; i < batch.size(); ++i) {
        const double after = sequence_logprob(m, batch[i].prompt, batch[i].response);
        if (batch[i].reward > 0.5)
            EXPECT_GT(after, before[i]) << name << " response " << i;
        else
            EXPECT_LT(after, before[i]) << name << " response " << i;
    }
    return metrics;
}

}  // namespace

TEST(RlStep, MovesProbabilityTowardRewardedResponses) {
    StepMetrics metrics = expect_moves_toward_rewarded(RlStepOptions{}, "grpo");
    EXPECT_NEAR(metrics["reward/mean"], 0.5, 1e-9);
    EXPECT_LT(metrics["logprob_mismatch/max"], 1e-5);
    EXPECT_EQ(metrics["clip_frac/low"] + metrics["clip_frac/high"], 0.0);  // ratio 1 at the only step
    EXPECT_GT(metrics["grad_norm"], 0.0);
}

TEST(RlStep, MicroBatchingDoesNotChangeTheUpdate) {
    Model a(tiny_config());
    model_init_random(a, 5);
    Model b(a);
    auto batch = make_batch(a);
    const AdamWConfig ac = gradient_proportional_adam(1e-3f);
    const LrSchedule sched = constant_lr(ac.lr);
    RlStepOptions whole, micro;
    whole.micro_batch_tokens = 0;
    micro.micro_batch_tokens = 7;  // one or two sequences per micro-batch
    for (auto agg : {LossAgg::token_mean, LossAgg::seq_mean_token_mean}) {
        whole.loss.agg = micro.loss.agg = agg;
        RlTrainer ra(a, ac, sched), rb(b, ac, sched);
        auto ma = ra.step(batch, whole, 0);
        auto mb = rb.step(batch, micro, 0);
        EXPECT_NEAR(ma["loss"], mb["loss"], 1e-6);
        EXPECT_NEAR(ma["grad_norm"], mb["grad_norm"], 1e-5);
        EXPECT_LT(max_weight_diff(a, b), 1e-8) << loss_agg_name(agg);
    }
}

TEST(RlStep, AllEqualRewardsGiveNoPolicyGradient) {
    Model m(tiny_config());
    model_init_random(m, 2);
    auto batch = make_batch(m);
    for (auto& e : batch) e.reward = 1.0;
    AdamWConfig ac;
    LrSchedule sched;
    RlTrainer rl(m, ac, sched);
    auto metrics = rl.step(batch, {}, 0);
    EXPECT_EQ(metrics["grad_norm"], 0.0);
    EXPECT_EQ(metrics["adv/std"], 0.0);
}

// DAPO overlong filtering: truncated responses carry no loss. With every response truncated nothing is
// learned; with one, the others still are, and the step reports the filtered fraction.
TEST(RlStep, OverlongFilterTakesTruncatedResponsesOutOfTheLoss) {
    Model m(tiny_config());
    model_init_random(m, 2);
    auto batch = make_batch(m);
    RlStepOptions filter;
    filter.overlong_filter = true;
    auto step_on = [&](const std::vector<Experience>& b, const RlStepOptions& o) {
        Model copy(m);
        RlTrainer rl(copy, AdamWConfig{}, LrSchedule{});
        return rl.step(b, o, 0);
    };
    auto all_cut = batch;
    for (auto& e : all_cut) e.truncated = true;
    EXPECT_GT(step_on(all_cut, {})["grad_norm"], 0.0);  // the flag alone changes nothing
    StepMetrics none = step_on(all_cut, filter);
    EXPECT_EQ(none["grad_norm"], 0.0);
    EXPECT_EQ(none["overlong/filtered_frac"], 1.0);
    auto one_cut = batch;
    one_cut[0].truncated = true;  // the rewarded response of group 0
    StepMetrics plain = step_on(one_cut, {}), some = step_on(one_cut, filter);
    EXPECT_GT(some["grad_norm"], 0.0);
    EXPECT_NEAR(some["overlong/filtered_frac"], 1.0 / 6.0, 1e-12);
    EXPECT_EQ(plain["overlong/filtered_frac"], 0.0);
    EXPECT_NE(some["pg_loss"], plain["pg_loss"]);
}

TEST(Sft, LossFallsOnARepeatedBatch) {
    Model m(tiny_config());
    model_init_random(m, 3);
    AdamWConfig ac;
    ac.lr = 3e-3f;
    LrSchedule sched;
    sched.base_lr = ac.lr;
    SftTrainer sft(m, ac, sched);
    std::vector<SftExample> batch = {{{1, 2, 3}, {4, 5, 0}}, {{6, 7}, {8, 0}}};
    const double first = sft.step(batch);
    double last = first;
    for (int i = 0; i < 30; ++i) last = sft.step(batch);
    EXPECT_LT(last, 0.5 * first);
    EXPECT_EQ(sft.steps_done(), 31);
}

// ---- algorithms selected through RlStepOptions ----------------------------------------------------

namespace {

struct AlgoCase {
    const char* name;
    RlStepOptions opt;
};

std::vector<AlgoCase> algorithm_cases() {
    std::vector<AlgoCase> out;
    RlStepOptions grpo;
    out.push_back({"grpo", grpo});
    RlStepOptions dr = grpo;
    dr.divide_adv_by_std = false;
    dr.loss.agg = LossAgg::seq_mean_token_sum_norm;
    dr.loss.l_norm = 4;
    out.push_back({"dr_grpo", dr});
    RlStepOptions dapo = grpo;
    dapo.loss.clip_high = 0.28f;
    dapo.dynamic_sampling = true;
    out.push_back({"dapo", dapo});
    RlStepOptions gspo = grpo;
    gspo.policy_loss = PolicyLossKind::gspo;
    gspo.loss.agg = LossAgg::seq_mean_token_mean;
    gspo.loss.clip_low = 3e-4f;
    gspo.loss.clip_high = 4e-4f;
    out.push_back({"gspo", gspo});
    RlStepOptions rloo = grpo;
    rloo.advantage = AdvantageKind::rloo;
    out.push_back({"rloo", rloo});
    RlStepOptions rpp = grpo;
    rpp.advantage = AdvantageKind::reinforce_pp;
    rpp.kl_in_reward = true;
    rpp.kl_coef = 0.001;
    out.push_back({"reinforce_pp", rpp});
    RlStepOptions rpp_baseline = grpo;
    rpp_baseline.advantage = AdvantageKind::reinforce_pp_baseline;
    out.push_back({"reinforce_pp_baseline", rpp_baseline});
    RlStepOptions multi = grpo;  // (with several mini-batches each group is pushed by its own step)
    multi.ppo_epochs = 2;
    multi.loss.dual_clip = 3.0f;
    out.push_back({"grpo 2 epochs", multi});
    RlStepOptions opob = grpo;
    opob.advantage = AdvantageKind::opob;
    out.push_back({"vcpo opob", opob});
    RlStepOptions vcpo = grpo;  // the vcpo preset: OPOB, ESS lr, sequence mean, sequence TIS at 8
    vcpo.advantage = AdvantageKind::opob;
    vcpo.ess_lr = EssLrScaling::sqrt;
    vcpo.loss.agg = LossAgg::seq_mean_token_mean;
    vcpo.behaviour_is = {IsCorrection::truncate, 8.0, 0.0, IsLevel::sequence};
    out.push_back({"vcpo", vcpo});
    RlStepOptions corrected = grpo;
    corrected.behaviour_is = {IsCorrection::truncate, 2.0, 0.0};
    corrected.ess_lr = EssLrScaling::sqrt;
    corrected.mpt_mask = true;
    corrected.kl_coef = 0.01;
    out.push_back({"grpo + tis + ess lr + mpt + kl loss", corrected});
    return out;
}

}  // namespace

TEST(RlAlgorithms, EveryAlgorithmMovesProbabilityTowardRewardedResponses) {
    for (const AlgoCase& c : algorithm_cases()) {
        StepMetrics metrics = expect_moves_toward_rewarded(c.opt, c.name);
        EXPECT_GT(metrics["grad_norm"], 0.0) << c.name;
        for (const char* key :
             {"pg_loss", "vf_loss", "clip_frac/low", "clip_frac/high", "approx_kl", "kl_ref", "entropy",
              "ess", "adv/mean", "adv/std", "grad_norm", "masked_token_frac", "dynamic_sampling/rounds",
              "dynamic_sampling/kept_groups"})
            EXPECT_TRUE(metrics.count(key)) << c.name << " lacks " << key;
        EXPECT_NEAR(metrics["ess"], 1.0, 1e-5) << c.name;  // on-policy behaviour log-probs
        EXPECT_EQ(metrics["dynamic_sampling/kept_groups"], 2) << c.name;
    }
}

TEST(RlAlgorithms, ProximalScoringPassGivesTheSameSingleUpdate) {
    // A batch-level MPT gate that can never fire forces the scoring pass; with one update its
    // log-probs are those of the training forward, so the update is identical.
    Model a(tiny_config());
    model_init_random(a, 5);
    Model b(a);
    auto batch = make_batch(a);
    const AdamWConfig ac = gradient_proportional_adam(1e-3f);
    const LrSchedule sched = constant_lr(ac.lr);
    RlStepOptions plain, scored;
    scored.mpt_mask = true;
    scored.mpt.batch_gate = true;
    scored.mpt.entropy_target = 0.0;  // entropy is never below 0
    RlTrainer ra(a, ac, sched), rb(b, ac, sched);
    auto ma = ra.step(batch, plain, 0);
    auto mb = rb.step(batch, scored, 0);
    EXPECT_EQ(mb["masked_token_frac"], 0.0);
    EXPECT_NEAR(ma["loss"], mb["loss"], 1e-7);
    for (size_t i = 0; i < a.data.size(); ++i) ASSERT_EQ(a.data[i], b.data[i]) << i;
}

TEST(RlAlgorithms, SeveralUpdatesUseTheProximalPolicyOfTheFirst) {
    Model m(tiny_config());
    model_init_random(m, 7);
    auto batch = make_batch(m);
    AdamWConfig ac;
    ac.lr = 3e-2f;
    ac.weight_decay = 0;
    LrSchedule sched;
    sched.base_lr = ac.lr;
    RlTrainer rl(m, ac, sched);
    RlStepOptions opt;
    opt.ppo_epochs = 3;
    opt.mini_batches = 2;
    auto metrics = rl.step(batch, opt, 0);
    EXPECT_EQ(metrics["updates"], 6);
    EXPECT_EQ(rl.steps_done(), 6);
    // After the first update the policy has moved away from the proximal one: the ratio is no
    // longer 1 (approx_kl > 0), and with this lr some tokens reach the clip range.
    EXPECT_GT(metrics["approx_kl"], 0.0);
    EXPECT_GT(metrics["clip_frac/low"] + metrics["clip_frac/high"], 0.0);
}

TEST(RlAlgorithms, DynamicSamplingDropsAllEqualGroups) {
    Model m(tiny_config());
    model_init_random(m, 3);
    auto batch = make_batch(m);
    for (int i = 0; i < 3; ++i) batch[i].correct = true, batch[i].reward = 1;  // group 0 all correct
    AdamWConfig ac;
    LrSchedule sched;
    RlTrainer rl(m, ac, sched);
    RlStepOptions opt;
    opt.dynamic_sampling = true;
    auto metrics = rl.step(batch, opt, 0);
    EXPECT_EQ(metrics["dynamic_sampling/kept_groups"], 1);
    EXPECT_EQ(metrics["dynamic_sampling/groups"], 2);
    EXPECT_EQ(metrics["response_tokens"], 7);  // group 1 only: 4 + 1 + 2
    EXPECT_GT(metrics["grad_norm"], 0.0);
    // Every group all-equal: no update at all.
    for (auto& e : batch) e.correct = false, e.reward = 0;
    const std::vector<float> w = m.data;
    auto none = rl.step(batch, opt, 0);
    EXPECT_EQ(none["dynamic_sampling/kept_groups"], 0);
    EXPECT_EQ(none["skipped_step"], 1.0);
    EXPECT_EQ(m.data, w);
}

TEST(RlAlgorithms, KlLossPullsTowardTheReference) {
    // Equal rewards: no policy gradient, only the KL term. Starting away from the reference, a few
    // steps lower the KL to it. (Not k1: as a loss its per-sample gradient is grad log pi, which only
    // pushes the sampled tokens down; its value is unbiased, its gradient is not the KL's.)
    Model ref(tiny_config());
    model_init_random(ref, 1);
    Model m(tiny_config());
    model_init_random(m, 2);
    auto batch = make_batch(m);
    for (auto& e : batch) e.reward = 1.0;
    for (KlType k : {KlType::k2, KlType::k3}) {
        Model p(m);
        AdamWConfig ac;
        ac.lr = 1e-2f;
        ac.weight_decay = 0;
        LrSchedule sched;
        sched.base_lr = ac.lr;
        RlTrainer rl(p, ac, sched);
        rl.set_reference(ref);
        RlStepOptions opt;
        opt.kl_coef = 1.0;
        opt.kl_type = KlType::k2;  // k2 >= 0 measures the distance whatever the estimator trained
        auto first = rl.step(batch, opt, 0);
        opt.kl_type = k;
        for (int s = 0; s < 5; ++s) rl.step(batch, opt, 0);
        opt.kl_type = KlType::k2;
        auto last = rl.step(batch, opt, 0);
        EXPECT_GT(first["kl_ref"], 0.0) << kl_type_name(k);
        EXPECT_LT(last["kl_ref"], first["kl_ref"]) << kl_type_name(k);
    }
}

// GRPO with the KL as a reward term (verl use_kl_in_reward): beta * sum_t k_t is taken off each
// response's outcome reward before the group normalisation. With equal rewards, the KL alone then
// separates the samples (non-zero advantages), where as a loss term it leaves the advantages at 0.
TEST(RlAlgorithms, KlInTheRewardEntersGrpoAdvantages) {
    Model ref(tiny_config());
    model_init_random(ref, 1);
    Model m(tiny_config());
    model_init_random(m, 2);
    auto batch = make_batch(m);
    for (auto& e : batch) e.reward = 1.0;
    auto step_with = [&](bool in_reward) {
        Model p(m);
        RlTrainer rl(p, AdamWConfig{}, LrSchedule{});
        rl.set_reference(ref);
        RlStepOptions opt;
        opt.kl_coef = 0.5;
        opt.kl_in_reward = in_reward;
        return rl.step(batch, opt, 0);
    };
    StepMetrics as_loss = step_with(false), as_reward = step_with(true);
    EXPECT_EQ(as_loss["adv/std"], 0.0);
    EXPECT_GT(as_loss["grad_norm"], 0.0);  // the KL loss term alone
    EXPECT_GT(as_reward["adv/std"], 0.1);
    EXPECT_GT(as_reward["kl_ref"], 0.0);
    EXPECT_NE(as_reward["pg_loss"], as_loss["pg_loss"]);
}

TEST(RlAlgorithms, ReferenceDefaultsToTheWeightsAtTheFirstKlStep) {
    Model m(tiny_config());
    model_init_random(m, 4);
    auto batch = make_batch(m);
    AdamWConfig ac;
    ac.lr = 1e-2f;
    LrSchedule sched;
    sched.base_lr = ac.lr;
    RlTrainer rl(m, ac, sched);
    RlStepOptions opt;
    opt.kl_coef = 0.1;
    EXPECT_NEAR(rl.step(batch, opt, 0)["kl_ref"], 0.0, 1e-9);  // reference = the policy itself
    EXPECT_GT(rl.step(batch, opt, 1)["kl_ref"], 0.0);          // the policy moved, the reference did not
}

TEST(RlAlgorithms, BehaviourImportanceWeights) {
    // On-policy behaviour log-probs: every TIS weight is 1 and the update equals plain GRPO's.
    Model a(tiny_config());
    model_init_random(a, 6);
    Model b(a);
    auto batch = make_batch(a);
    const AdamWConfig ac = gradient_proportional_adam(1e-3f);
    const LrSchedule sched = constant_lr(ac.lr);
    RlStepOptions plain, tis;
    tis.behaviour_is = {IsCorrection::truncate, 2.0, 0.0};
    RlTrainer ra(a, ac, sched), rb(b, ac, sched);
    ra.step(batch, plain, 0);
    auto mt = rb.step(batch, tis, 0);
    EXPECT_NEAR(mt["is/weight_mean"], 1.0, 1e-5);
    EXPECT_LT(max_weight_diff(a, b), 1e-7);
    // A stale behaviour policy that gave every token 6x less probability: decoupled PPO's mask action
    // rejects every token (w = 6 > 5), nothing is learnt, ESS of equal weights is still 1.
    for (auto& e : batch)
        for (auto& lp : e.behaviour_logprob) lp -= std::log(6.0f);
    RlStepOptions decoupled;
    decoupled.behaviour_is = {IsCorrection::mask, 5.0, 0.0};
    auto md = rb.step(batch, decoupled, 0);
    EXPECT_NEAR(md["is/rejected_frac"], 1.0, 1e-9);
    EXPECT_NEAR(md["masked_token_frac"], 1.0, 1e-9);
    EXPECT_EQ(md["grad_norm"], 0.0);
}

TEST(RlAlgorithms, SequenceImportanceWeights) {
    // On-policy: every sequence weight is 1 and the update equals plain GRPO's.
    Model a(tiny_config());
    model_init_random(a, 6);
    Model b(a);
    auto batch = make_batch(a);
    const AdamWConfig ac = gradient_proportional_adam(1e-3f);
    const LrSchedule sched = constant_lr(ac.lr);
    RlStepOptions plain, seq;
    seq.behaviour_is = {IsCorrection::truncate, 8.0, 0.0, IsLevel::sequence};
    RlTrainer ra(a, ac, sched), rb(b, ac, sched);
    ra.step(batch, plain, 0);
    auto ms = rb.step(batch, seq, 0);
    EXPECT_NEAR(ms["is/weight_mean"], 1.0, 1e-5);
    EXPECT_LT(max_weight_diff(a, b), 1e-7);
    // Response 0 (3 of the batch's 13 tokens) was 20x less likely under mu: each token's ratio is
    // 20^(1/3) = 2.71 < 8, but its sequence weight 20 is truncated to 8 on all 3 tokens.
    batch = make_batch(b);  // on-policy for b's current weights, then response 0 made stale
    for (auto& lp : batch[0].behaviour_logprob) lp -= std::log(20.0f) / 3;
    Model c(b);
    RlTrainer rc(c, ac, sched);
    auto mt = rc.step(batch, seq, 0);
    EXPECT_NEAR(mt["is/truncated_frac"], 3.0 / 13, 1e-9);
    EXPECT_NEAR(mt["is/weight_mean"], (3 * 8.0 + 10 * 1.0) / 13, 1e-4);
    RlStepOptions tok = seq;
    tok.behaviour_is.level = IsLevel::token;
    Model d(b);
    RlTrainer rd(d, ac, sched);
    EXPECT_EQ(rd.step(batch, tok, 0)["is/truncated_frac"], 0.0);
    // The mask action drops the whole response: its 3 tokens carry no loss.
    RlStepOptions masked = seq;
    masked.behaviour_is.mode = IsCorrection::mask;
    Model e(b);
    RlTrainer re(e, ac, sched);
    auto mm = re.step(batch, masked, 0);
    EXPECT_NEAR(mm["is/rejected_frac"], 3.0 / 13, 1e-9);
    EXPECT_NEAR(mm["masked_token_frac"], 3.0 / 13, 1e-9);
}

TEST(RlAlgorithms, EssScalesTheLearningRate) {
    // Sequence weights [w, w, w, 1e-9-ish ...]: make one response's behaviour log-probs far lower so
    // its sequence weight dominates; ESS falls toward 1 of 6 and sqrt scaling lowers the lr.
    Model m(tiny_config());
    model_init_random(m, 8);
    auto batch = make_batch(m);
    for (auto& lp : batch[0].behaviour_logprob) lp -= 5.0f;
    AdamWConfig ac;
    ac.lr = 1e-3f;
    LrSchedule sched;
    sched.base_lr = ac.lr;
    RlTrainer rl(m, ac, sched);
    RlStepOptions opt;
    opt.ess_lr = EssLrScaling::sqrt;
    auto metrics = rl.step(batch, opt, 0);
    EXPECT_LT(metrics["ess"], 0.2);
    EXPECT_NEAR(metrics["lr"], 1e-3 * std::sqrt(metrics["ess"]), 1e-7);
}
