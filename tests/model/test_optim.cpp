// AdamW, grad-norm clipping and LR schedules against hand-computed values and numbers recorded from
// torch 1.13 (torch.optim.AdamW, torch.nn.utils.clip_grad_norm_; script in the comments below).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/base/error.h"
#include "model/optim.h"

namespace stride {
namespace {

TEST(AdamW, FirstStepByHand) {
    // Step 1: mhat = g, vhat = g^2, so the Adam direction is sign(g) (up to eps).
    AdamWConfig cfg;
    cfg.lr = 0.1f;
    cfg.weight_decay = 0.01f;
    AdamW opt(3, cfg);
    std::vector<float> p = {0.5f, -1.0f, 2.0f}, g = {0.1f, -0.2f, 0.0f};
    opt.step(p.data(), g.data());
    EXPECT_NEAR(p[0], 0.5f - 0.1f * (1.0f + 0.01f * 0.5f), 1e-6);
    EXPECT_NEAR(p[1], -1.0f - 0.1f * (-1.0f + 0.01f * -1.0f), 1e-6);
    EXPECT_NEAR(p[2], 2.0f - 0.1f * 0.01f * 2.0f, 1e-6);  // zero gradient: only decay
    EXPECT_EQ(opt.step_count(), 1);
    EXPECT_NEAR(opt.m()[0], 0.01f, 1e-8);
    EXPECT_NEAR(opt.v()[1], 0.001f * 0.04f, 1e-9);  // (1 - beta2) is 0.00099998 in float
}

TEST(AdamW, MatchesTorchAdamW) {
    // p = torch.tensor([0.5, -1.0, 2.0, 0.0]); torch.optim.AdamW([p], lr=0.1, betas=(0.9, 0.999),
    // eps=1e-8, weight_decay=0.01); three steps with the gradients below.
    AdamWConfig cfg;
    cfg.lr = 0.1f;
    AdamW opt(4, cfg);
    std::vector<float> p = {0.5f, -1.0f, 2.0f, 0.0f};
    const float grads[3][4] = {
        {0.1f, -0.2f, 0.3f, 0.0f}, {-0.5f, 0.4f, 0.0f, 1e-3f}, {2.0f, 2.0f, -1.0f, -3.0f}};
    const float expected[3][4] = {{0.399500012f, -0.899000049f, 1.898f, 0.0f},
                                  {0.458935916f, -0.934711397f, 1.82909632f, -0.074412629f},
                                  {0.407994926f, -1.00229228f, 1.87358987f, -0.0104760304f}};
    for (int s = 0; s < 3; ++s) {
        opt.step(p.data(), grads[s]);
        for (int i = 0; i < 4; ++i) EXPECT_NEAR(p[i], expected[s][i], 2e-6) << "step " << s << " i " << i;
    }
}

TEST(AdamW, LrOverrideAndBadConfig) {
    AdamWConfig cfg;
    cfg.lr = 1.0f;
    cfg.weight_decay = 0.0f;
    AdamW opt(1, cfg);
    std::vector<float> p = {1.0f}, g = {1.0f};
    opt.step(p.data(), g.data(), 0.25f);
    EXPECT_NEAR(p[0], 0.75f, 1e-6);
    cfg.beta2 = 1.0f;
    EXPECT_THROW(AdamW(1, cfg), Error);
    cfg = {};
    cfg.eps = 0.0f;
    EXPECT_THROW(AdamW(1, cfg), Error);
}

TEST(GradClip, ReturnsPreClipNormAndScales) {
    // torch.nn.utils.clip_grad_norm_ on [3, 4, 0, 12] with max_norm 1 -> norm 13,
    // grads [0.230769217, 0.307692289, 0, 0.923076868].
    std::vector<float> g = {3.0f, 4.0f, 0.0f, 12.0f};
    EXPECT_NEAR(grad_norm(g.data(), g.size()), 13.0f, 1e-6);
    float norm = clip_grad_norm(g.data(), g.size(), 1.0f);
    EXPECT_NEAR(norm, 13.0f, 1e-6);
    EXPECT_NEAR(g[0], 0.230769217f, 1e-7);
    EXPECT_NEAR(g[1], 0.307692289f, 1e-7);
    EXPECT_EQ(g[2], 0.0f);
    EXPECT_NEAR(g[3], 0.923076868f, 1e-7);
    // Under the limit: untouched.
    std::vector<float> small = {0.3f, 0.4f};
    EXPECT_NEAR(clip_grad_norm(small.data(), 2, 1.0f), 0.5f, 1e-7);
    EXPECT_EQ(small[0], 0.3f);
    // Disabled: norm only.
    std::vector<float> big = {30.0f, 40.0f};
    EXPECT_NEAR(clip_grad_norm(big.data(), 2, 0.0f), 50.0f, 1e-5);
    EXPECT_EQ(big[1], 40.0f);
    // Non-finite: reported, gradients left alone for the caller to skip the step.
    std::vector<float> bad = {1.0f, NAN};
    EXPECT_TRUE(std::isnan(clip_grad_norm(bad.data(), 2, 1.0f)));
    EXPECT_EQ(bad[0], 1.0f);
}

TEST(GradClip, LargeBufferNormIsAccurate) {
    std::vector<float> g(1 << 20, 0.001f);
    EXPECT_NEAR(grad_norm(g.data(), g.size()), 0.001 * 1024, 1e-6);
}

TEST(LrSchedule, ConstantAndWarmup) {
    LrSchedule s;
    s.base_lr = 1e-3f;
    EXPECT_FLOAT_EQ(s.lr_at(0), 1e-3f);
    EXPECT_FLOAT_EQ(s.lr_at(1000), 1e-3f);
    s.type = LrScheduleType::linear_warmup;
    s.warmup_steps = 10;
    EXPECT_FLOAT_EQ(s.lr_at(0), 1e-4f);
    EXPECT_FLOAT_EQ(s.lr_at(4), 5e-4f);
    EXPECT_FLOAT_EQ(s.lr_at(9), 1e-3f);
    EXPECT_FLOAT_EQ(s.lr_at(50), 1e-3f);
}

TEST(LrSchedule, CosineWithWarmupAndFloor) {
    LrSchedule s;
    s.type = LrScheduleType::cosine;
    s.base_lr = 1.0f;
    s.min_lr = 0.1f;
    s.warmup_steps = 10;
    s.total_steps = 110;
    s.validate();
    EXPECT_FLOAT_EQ(s.lr_at(0), 0.1f);
    EXPECT_FLOAT_EQ(s.lr_at(10), 1.0f);     // decay starts
    EXPECT_NEAR(s.lr_at(60), 0.55f, 1e-6);  // halfway: mid-point
    EXPECT_NEAR(s.lr_at(35), 0.1f + 0.9f * 0.5f * (1 + std::cos(M_PI / 4)), 1e-6);
    EXPECT_FLOAT_EQ(s.lr_at(110), 0.1f);
    EXPECT_FLOAT_EQ(s.lr_at(500), 0.1f);  // stays at the floor
    s.total_steps = 10;
    EXPECT_THROW(s.validate(), Error);
    EXPECT_EQ(lr_schedule_from_name("cosine"), LrScheduleType::cosine);
    EXPECT_THROW(lr_schedule_from_name("step"), Error);
}

}  // namespace
}  // namespace stride
