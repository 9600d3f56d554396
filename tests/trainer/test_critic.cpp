// PPO's critic: the value head's gradients against finite differences (alone and through the trunk),
// shared and separate critics learning the returns of a fixed batch, a PPO step moving probability
// toward rewarded responses, micro-batching leaving the update unchanged, and the critic's
// checkpoint round trip.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <random>

#include "common/base/error.h"
#include "tests/trainer/rl_test_util.h"
#include "trainer/critic.h"
#include "trainer/rl_step.h"
#include "trainer/value_head.h"

using namespace stride;
using namespace stride::test;

namespace {

std::vector<float> randn(size_t n, uint64_t seed, float scale = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

CriticOptions critic_options(CriticKind kind, float lr, float eps = 1e-8f) {
    CriticOptions c;
    c.kind = kind;
    c.adam.lr = lr;
    c.adam.eps = eps;
    c.adam.weight_decay = 0;
    return c;
}

RlStepOptions ppo_options() {
    RlStepOptions o;
    o.advantage = AdvantageKind::gae;
    return o;
}

}  // namespace

TEST(ValueHead, GradientsMatchFiniteDifferences) {
    const int rows = 3, H = 5;
    std::vector<float> params = randn(H + 1, 1), f = randn(rows * H, 2);
    const std::vector<float> d_v = randn(rows, 3);  // loss = sum_r d_v[r] * v[r]
    auto loss = [&] {
        std::vector<float> v(rows);
        value_head_forward(params.data(), f.data(), rows, H, v.data());
        double s = 0;
        for (int r = 0; r < rows; ++r) s += (double)d_v[r] * v[r];
        return s;
    };
    std::vector<float> g_params(H + 1, 0.0f), g_f(rows * H, 0.0f);
    value_head_backward(params.data(), f.data(), d_v.data(), rows, H, g_params.data(), g_f.data());
    for (std::vector<float>* x : {&params, &f}) {
        const std::vector<float>& g = x == &params ? g_params : g_f;
        for (size_t i = 0; i < x->size(); ++i) {
            const float saved = (*x)[i], eps = 1e-2f;
            (*x)[i] = saved + eps;
            const double up = loss();
            (*x)[i] = saved - eps;
            const double down = loss();
            (*x)[i] = saved;
            EXPECT_NEAR(g[i], (up - down) / (2 * eps), 1e-4) << i;
        }
    }
}

TEST(Critic, ValueLossGradientThroughTheTrunkMatchesFiniteDifferences) {
    // A separate critic: value loss of two responses, gradient into the head and (through
    // Transformer::backward's g_final_hidden) into the trunk, against central differences.
    Model policy(tiny_config());
    model_init_random(policy, 31, 0.2f);  // larger than HF's 0.02 so that gradients are not tiny
    Critic critic(policy, critic_options(CriticKind::separate, 1e-3f));
    critic.head() = randn(critic.hidden() + 1, 32, 0.3f);
    PackedBatch batch;
    batch.add_sequence({1, 2, 3, 7, 8, 9});  // prompt of 3, response of 3
    batch.add_sequence({4, 5, 13, 14});      // prompt of 2, response of 2
    const std::vector<double> v_old = {0.1, -0.2, 0.3, 0.0, 0.5}, ret = {1.0, 1.0, 1.0, 0.0, 0.0};
    const std::vector<float> w(5, 0.2f);
    const std::vector<ValueSlice> slices = {{3, 3, v_old.data(), ret.data(), w.data()},
                                            {8, 2, v_old.data() + 3, ret.data() + 3, w.data() + 3}};
    const double clip = 10.0;  // no clipping: the loss is smooth where we probe
    ForwardOptions fo;
    critic.zero_grads();
    critic.train_separate(batch, fo, slices, clip);
    const std::vector<float> g_head = critic.head_grads(), g_trunk = critic.trunk_grads();
    auto loss = [&] {
        Transformer tf(*critic.trunk());
        ForwardOptions trunk_only;
        trunk_only.lm_head = false;
        tf.forward(batch, trunk_only);
        Critic probe(*critic.trunk(), critic_options(CriticKind::shared, 1e-3f));
        probe.head() = critic.head();
        return probe.value_loss(tf.final_hidden(), slices, clip, 1.0, nullptr).loss;
    };
    for (size_t i = 0; i < g_head.size(); i += 5) {
        float& p = critic.head()[i];
        const float saved = p, eps = 1e-2f;
        p = saved + eps;
        const double up = loss();
        p = saved - eps;
        const double down = loss();
        p = saved;
        EXPECT_NEAR(g_head[i], (up - down) / (2 * eps), 1e-3 + 1e-2 * std::fabs(g_head[i])) << "head " << i;
    }
    int probed = 0;
    std::vector<float>& data = critic.trunk()->data;
    for (size_t i = 0; i < data.size(); i += 997) {
        const float saved = data[i], eps = 1e-2f;
        data[i] = saved + eps;
        const double up = loss();
        data[i] = saved - eps;
        const double down = loss();
        data[i] = saved;
        EXPECT_NEAR(g_trunk[i], (up - down) / (2 * eps), 1e-3 + 2e-2 * std::fabs(g_trunk[i]))
            << "trunk " << i;
        ++probed;
    }
    EXPECT_GT(probed, 10);
}

TEST(Critic, PpoStepMovesProbabilityTowardRewardedResponses) {
    for (CriticKind kind : {CriticKind::separate, CriticKind::shared}) {
        Model m(tiny_config());
        model_init_random(m, 11);
        auto batch = make_batch(m);
        std::vector<double> before;
        for (const auto& e : batch) before.push_back(sequence_logprob(m, e.prompt, e.response));
        AdamWConfig ac;
        ac.lr = 1e-2f;
        ac.weight_decay = 0;
        RlTrainer rl(m, ac, constant_lr(ac.lr));
        rl.enable_critic(critic_options(kind, 1e-2f));
        StepMetrics metrics = rl.step(batch, ppo_options(), 0);
        for (size_t i = 0; i < batch.size(); ++i) {
            const double after = sequence_logprob(m, batch[i].prompt, batch[i].response);
            if (batch[i].reward > 0.5)
                EXPECT_GT(after, before[i]) << critic_kind_name(kind) << " response " << i;
            else
                EXPECT_LT(after, before[i]) << critic_kind_name(kind) << " response " << i;
        }
        // The head starts at zero: every value is 0 and every return is the response's reward.
        EXPECT_EQ(metrics["values/mean"], 0.0);
        EXPECT_NEAR(metrics["returns/mean"], 6.0 / 13.0, 1e-9);  // rewarded tokens: 3 + 1 + 2 of 13
        EXPECT_GT(metrics["vf_loss"], 0.0);
        EXPECT_GT(metrics["critic/grad_norm"], 0.0);
        EXPECT_NEAR(metrics["critic/lr"], 1e-2, 1e-9);
    }
}

TEST(Critic, SharedAndSeparateCriticsLearnTheReturns) {
    // The same batch over and over with a policy that barely moves: the value loss falls and the
    // values come to explain most of the returns' variance.
    for (CriticKind kind : {CriticKind::separate, CriticKind::shared}) {
        Model m(tiny_config());
        model_init_random(m, 12);
        auto batch = make_batch(m);
        AdamWConfig ac;
        ac.lr = 1e-6f;
        RlTrainer rl(m, ac, constant_lr(ac.lr));
        rl.enable_critic(critic_options(kind, 3e-2f));
        RlStepOptions opt = ppo_options();
        opt.vf_clip = 10.0;  // the test is about fitting, not about the trust region
        opt.vf_coef = 1.0;
        StepMetrics first = rl.step(batch, opt, 0), last;
        for (int s = 1; s < 60; ++s) last = rl.step(batch, opt, s);
        // Floor: the first response token of every member of a group is valued from the same row (the
        // prompt's last token), so the best value there is the group's mean reward; groups {1,0,0} and
        // {0,1,1} leave 0.5 * 3 * (2/9) each, over 13 tokens: 0.0513.
        const double floor = 2 * 0.5 * 3 * (2.0 / 9.0) / 13.0;
        EXPECT_NEAR(first["vf_loss"], 0.5 * 6.0 / 13.0, 1e-6);  // values 0, returns 0 or 1
        EXPECT_LT(last["vf_loss"], floor + 0.01) << critic_kind_name(kind);
        EXPECT_GT(last["vf_explained_var"], 0.5) << critic_kind_name(kind);
        EXPECT_NEAR(last["values/mean"], last["returns/mean"], 0.1) << critic_kind_name(kind);
    }
}

TEST(Critic, MicroBatchingDoesNotChangeThePpoUpdate) {
    for (CriticKind kind : {CriticKind::separate, CriticKind::shared}) {
        Model a(tiny_config());
        model_init_random(a, 5);
        Model b(a);
        auto batch = make_batch(a);
        const AdamWConfig ac = gradient_proportional_adam(1e-3f);
        RlTrainer ra(a, ac, constant_lr(ac.lr)), rb(b, ac, constant_lr(ac.lr));
        ra.enable_critic(critic_options(kind, 1e-2f, 1.0f));
        rb.enable_critic(critic_options(kind, 1e-2f, 1.0f));
        RlStepOptions whole = ppo_options(), micro = ppo_options();
        whole.micro_batch_tokens = 0;
        micro.micro_batch_tokens = 7;  // one or two sequences per micro-batch
        for (int s = 0; s < 2; ++s) {  // the second step has non-zero values and a moving trunk
            auto ma = ra.step(batch, whole, s);
            auto mb = rb.step(batch, micro, s);
            EXPECT_NEAR(ma["vf_loss"], mb["vf_loss"], 1e-6) << critic_kind_name(kind);
            EXPECT_NEAR(ma["loss"], mb["loss"], 1e-6) << critic_kind_name(kind);
        }
        EXPECT_LT(max_weight_diff(a, b), 1e-7) << critic_kind_name(kind);
        for (size_t i = 0; i < ra.critic()->head().size(); ++i)
            EXPECT_NEAR(ra.critic()->head()[i], rb.critic()->head()[i], 1e-7) << critic_kind_name(kind);
    }
}

TEST(Critic, CheckpointRoundTripRestoresHeadTrunkAndOptimizer) {
    const std::string dir =
        (std::filesystem::temp_directory_path() / ("stride-critic-" + std::to_string(getpid()))).string();
    for (CriticKind kind : {CriticKind::separate, CriticKind::shared}) {
        Model m(tiny_config());
        model_init_random(m, 13);
        auto batch = make_batch(m);
        AdamWConfig ac;
        ac.lr = 1e-3f;
        RlTrainer rl(m, ac, constant_lr(ac.lr));
        rl.enable_critic(critic_options(kind, 1e-2f));
        const std::vector<float> init = m.data;
        rl.step(batch, ppo_options(), 0);
        rl.step(batch, ppo_options(), 1);  // the head is 0 at the first step: no trunk gradient yet
        std::filesystem::remove_all(dir);
        rl.critic()->save(dir);

        Critic restored(m, critic_options(kind, 1e-2f));
        restored.load(dir);
        Critic& saved = *rl.critic();
        EXPECT_EQ(restored.head(), saved.head());
        EXPECT_EQ(restored.head_adam().m(), saved.head_adam().m());
        EXPECT_EQ(restored.head_adam().v(), saved.head_adam().v());
        EXPECT_EQ(restored.head_adam().step_count(), 2);
        if (kind == CriticKind::separate) {
            EXPECT_EQ(restored.trunk()->data, saved.trunk()->data);
            EXPECT_NE(restored.trunk()->data, init);  // the critic's own trunk trained
            EXPECT_EQ(restored.trunk_adam()->v(), saved.trunk_adam()->v());
        }
        // Resuming with the other kind of critic is refused, naming the key.
        Critic other(
            m, critic_options(kind == CriticKind::shared ? CriticKind::separate : CriticKind::shared, 1e-2f));
        try {
            other.load(dir);
            ADD_FAILURE() << "a critic of another kind must not load";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("trainer.critic"), std::string::npos) << e.what();
        }
    }
    std::filesystem::remove_all(dir);
}

TEST(Critic, GaeWithoutACriticIsAClearError) {
    Model m(tiny_config());
    model_init_random(m, 14);
    AdamWConfig ac;
    RlTrainer rl(m, ac, constant_lr(ac.lr));
    EXPECT_THROW(rl.step(make_batch(m), ppo_options(), 0), Error);
}
