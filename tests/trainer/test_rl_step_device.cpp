// The RL step on a device backend (trainer.device): the policy's gradients, AdamW state and master
// weights, the frozen reference and a PPO critic's trunk all live in device buffers, and model.data
// is refreshed from the device after each step. Run on the CPU-staged backend (CPU kernels behind
// device copies, tests/model/staged_backend.h), so every metric, weight and moment must equal the
// CPU trainer's exactly; the kernels themselves are test_backend_ops' and test_gpu_model's job.
#include <gtest/gtest.h>

#include <string>

#include "tests/model/staged_backend.h"
#include "tests/trainer/rl_test_util.h"
#include "trainer/rl_step.h"
#include "trainer/sft.h"

using namespace stride;
using namespace stride::test;

namespace {

struct Run {
    Model model;
    std::vector<StepMetrics> metrics;
    std::vector<float> m, v, critic_trunk, critic_m;
};

// Three steps of `opt` (micro-batches, two mini-batches, two epochs: several optimizer steps per call)
// on a fresh tiny model trained on `be`.
Run train(const Backend& be, const RlStepOptions& opt, const CriticKind* critic) {
    Run r{Model(tiny_config()), {}, {}, {}, {}, {}};
    model_init_random(r.model, 21);
    AdamWConfig ac;
    ac.lr = 1e-2f;
    RlTrainer rl(r.model, ac, constant_lr(ac.lr), be);
    if (critic) {
        CriticOptions co;
        co.kind = *critic;
        co.adam.lr = 1e-2f;
        rl.enable_critic(co);
    }
    auto batch = make_batch(r.model);
    for (int s = 0; s < 3; ++s) r.metrics.push_back(rl.step(batch, opt, s));
    r.m = rl.optimizer().m(), r.v = rl.optimizer().v();
    if (critic && *critic == CriticKind::separate) {
        r.critic_trunk = rl.critic()->trunk()->data;
        r.critic_m = rl.critic()->trunk_adam()->m();
    }
    return r;
}

void expect_same_training(const RlStepOptions& opt, const std::string& name,
                          const CriticKind* critic = nullptr) {
    const Run cpu = train(cpu_backend(), opt, critic);
    const Run dev = train(staged_backend(), opt, critic);
    ASSERT_EQ(dev.metrics.size(), cpu.metrics.size());
    for (size_t s = 0; s < cpu.metrics.size(); ++s)
        for (const auto& [key, value] : cpu.metrics[s]) {
            if (key.rfind("time/", 0) == 0) continue;  // wall-clock, not arithmetic
            ASSERT_TRUE(dev.metrics[s].count(key)) << name << ": " << key;
            EXPECT_EQ(dev.metrics[s].at(key), value) << name << ": step " << s << " " << key;
        }
    EXPECT_EQ(dev.model.data, cpu.model.data) << name << ": the weights model.data holds after the steps";
    EXPECT_EQ(dev.m, cpu.m) << name;
    EXPECT_EQ(dev.v, cpu.v) << name;
    EXPECT_EQ(dev.critic_trunk, cpu.critic_trunk) << name;
    EXPECT_EQ(dev.critic_m, cpu.critic_m) << name;
    Model start(tiny_config());
    model_init_random(start, 21);
    EXPECT_GT(max_weight_diff(dev.model, start), 0.0) << name << ": the steps moved no weight";
}

}  // namespace

TEST(RlStepDevice, GrpoWithReferenceAndEntropyEqualsTheCpuStep) {
    RlStepOptions opt;
    opt.micro_batch_tokens = 9;  // gradient accumulation over micro-batches
    opt.mini_batches = 2, opt.ppo_epochs = 2;
    opt.kl_coef = 0.05;  // the frozen reference, on the device too
    opt.entropy_coef = 0.01;
    opt.grad_clip = 0.05f;  // clipping scales on the device
    expect_same_training(opt, "grpo");
}

TEST(RlStepDevice, PpoCriticsEqualTheCpuStep) {
    RlStepOptions opt;
    opt.advantage = AdvantageKind::gae;
    opt.micro_batch_tokens = 9;
    for (CriticKind kind : {CriticKind::separate, CriticKind::shared})
        expect_same_training(opt, critic_kind_name(kind), &kind);
}

TEST(RlStepDevice, SftStepEqualsTheCpuStep) {
    Model a(tiny_config()), b(tiny_config());
    model_init_random(a, 3), model_init_random(b, 3);
    AdamWConfig ac;
    ac.lr = 1e-2f;
    SftTrainer cpu(a, ac, constant_lr(ac.lr)), dev(b, ac, constant_lr(ac.lr), 1.0f, staged_backend());
    const std::vector<SftExample> batch = {{{1, 2, 3}, {4, 5}}, {{6, 7}, {8, 9, 10}}};
    for (int s = 0; s < 3; ++s) EXPECT_EQ(dev.step(batch), cpu.step(batch)) << "step " << s;
    EXPECT_EQ(b.data, a.data);
}
