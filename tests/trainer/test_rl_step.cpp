// The RL step through the real engine: the update moves probability toward rewarded responses,
// micro-batching does not change the update (aggregation is over the whole batch), and SFT lowers
// its loss.
#include <gtest/gtest.h>

#include <cmath>

#include "model/transformer.h"
#include "trainer/rl_step.h"
#include "trainer/sft.h"

using namespace stride;

namespace {

ModelConfig tiny_config() {
    ModelConfig c;
    c.arch = Arch::qwen2;
    c.hidden = 32;
    c.intermediate = 64;
    c.layers = 2;
    c.heads = 4;
    c.kv_heads = 2;
    c.head_dim = 8;
    c.vocab = 50;
    c.qkv_bias = true;
    c.tie_embeddings = true;
    return c;
}

// Sum of log-probs of `response` after `prompt` under the model.
double sequence_logprob(const Model& m, const std::vector<int>& prompt, const std::vector<int>& response) {
    Transformer t(m);
    PackedBatch b;
    std::vector<int> seq = prompt;
    seq.insert(seq.end(), response.begin(), response.end());
    b.add_sequence(seq);
    TokenScores s = t.forward(b);
    double sum = 0;
    for (size_t i = prompt.size(); i < seq.size(); ++i) sum += s.logprob[i];
    return sum;
}

std::vector<Experience> make_batch(const Model& m) {
    // Two groups of three responses; behaviour log-probs taken from the model itself (on-policy).
    std::vector<Experience> batch;
    const std::vector<std::vector<int>> prompts = {{1, 2, 3}, {4, 5}};
    const std::vector<std::vector<std::vector<int>>> responses = {{{7, 8, 9}, {10, 11}, {12}},
                                                                  {{13, 14, 15, 16}, {17}, {18, 19}}};
    const std::vector<std::vector<double>> rewards = {{1, 0, 0}, {0, 1, 1}};
    Transformer t(m);
    for (int g = 0; g < 2; ++g) {
        for (int i = 0; i < 3; ++i) {
            Experience e;
            e.group = g;
            e.prompt = prompts[g];
            e.response = responses[g][i];
            e.reward = rewards[g][i];
            e.correct = e.reward > 0;
            PackedBatch b;
            std::vector<int> seq = e.prompt;
            seq.insert(seq.end(), e.response.begin(), e.response.end());
            b.add_sequence(seq);
            TokenScores s = t.forward(b);
            e.behaviour_logprob.assign(s.logprob.begin() + e.prompt.size(), s.logprob.end());
            e.token_version.assign(e.response.size(), 0);
            batch.push_back(e);
        }
    }
    return batch;
}

}  // namespace

TEST(RlStep, MovesProbabilityTowardRewardedResponses) {
    Model m(tiny_config());
    model_init_random(m, 11);
    auto batch = make_batch(m);
    std::vector<double> before;
    for (const auto& e : batch) before.push_back(sequence_logprob(m, e.prompt, e.response));
    AdamWConfig ac;
    ac.lr = 1e-2f;
    ac.weight_decay = 0;
    LrSchedule sched;
    sched.base_lr = ac.lr;
    RlTrainer rl(m, ac, sched);
    RlStepOptions opt;
    StepMetrics metrics = rl.step(batch, opt, 0);
    EXPECT_NEAR(metrics["reward/mean"], 0.5, 1e-9);
    EXPECT_LT(metrics["logprob_mismatch/max"], 1e-5);
    EXPECT_EQ(metrics["clip_frac/low"] + metrics["clip_frac/high"], 0.0);  // ratio 1 at the only step
    EXPECT_GT(metrics["grad_norm"], 0.0);
    for (size_t i = 0; i < batch.size(); ++i) {
        const double after = sequence_logprob(m, batch[i].prompt, batch[i].response);
        if (batch[i].reward > 0.5) EXPECT_GT(after, before[i]) << "response " << i;
        else EXPECT_LT(after, before[i]) << "response " << i;
    }
}

TEST(RlStep, MicroBatchingDoesNotChangeTheUpdate) {
    Model a(tiny_config());
    model_init_random(a, 5);
    Model b(a);
    auto batch = make_batch(a);
    AdamWConfig ac;
    ac.lr = 1e-3f;
    // A large eps makes the first Adam update proportional to the gradient (instead of ~lr * sign(g),
    // which turns float noise in near-zero gradients into lr-sized differences), so comparing
    // weights compares gradients.
    ac.eps = 1.0f;
    LrSchedule sched;
    sched.base_lr = ac.lr;
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
        double max_diff = 0;
        for (size_t i = 0; i < a.data.size(); ++i) max_diff = std::max(max_diff, (double)std::fabs(a.data[i] - b.data[i]));
        EXPECT_LT(max_diff, 1e-8) << loss_agg_name(agg);
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
