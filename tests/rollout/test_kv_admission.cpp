// KV admission: a rollout worker takes new prompts only while its KV pool can hold them next to what
// the sequences in flight may still take, so (unsegmented) nothing is ever preempted; with segment
// rollout the charge is one segment per sample, so more prompts fit the same pool.
#include <gtest/gtest.h>

#include "model/generator.h"
#include "rollout/kv_admission.h"
#include "tests/model/transformer_test_util.h"
#include "tests/rollout/rollout_test_util.h"

using namespace stride;
using stride::test::RolloutRig;

TEST(KvAdmission, ChargesPromptAndOneHorizonPerSample) {
    Model model(test::tiny_qwen3());
    GeneratorOptions o;
    o.kv_blocks = 40, o.block_size = 4, o.max_running = 64;
    Generator gen(model, o);
    AdmissionLimits lim;
    lim.max_running = 64, lim.n = 2, lim.prompt_tokens = 6, lim.horizon = 8;
    // A group: 2 prompt blocks + 2 samples x (2 blocks of horizon + 1 copied block) = 8 blocks.
    Admission a = groups_that_fit(gen, lim);
    EXPECT_EQ(a.seats, 32);
    EXPECT_EQ(a.kv, 5);
    EXPECT_EQ(a.groups, 5);
    GenerationRequest r;
    r.id = 1;
    r.prompt = test::random_tokens(6, model.config().vocab, 1);
    r.max_new_tokens = 64;
    r.segment_tokens = 8;
    r.n = 2;
    gen.add(r);
    // In flight: 2 x (6 + 8 tokens) = 4 blocks each, the 1 full prompt block shared: 7 reserved.
    EXPECT_EQ(gen.blocks_reserved(), 7);
    a = groups_that_fit(gen, lim);
    EXPECT_EQ(a.kv, (40 - 7) / 8);
    EXPECT_EQ(a.seats, 31);
    // Unsegmented, the same request reserves its whole response.
    lim.horizon = 64;
    EXPECT_EQ(groups_that_fit(gen, lim).kv, 0);
    // With nothing in flight one group is always allowed, however large: it can only wait for itself.
    lim.horizon = 100;  // 2 + 2 x (25 + 1) = 54 blocks > 40
    Generator empty(model, o);
    EXPECT_EQ(groups_that_fit(empty, lim).kv, 0);
    EXPECT_EQ(groups_that_fit(empty, lim).groups, 1);
    lim.max_running = 1;
    EXPECT_EQ(groups_that_fit(empty, lim).groups, 0) << "a group of 2 never fits 1 seat";
}

// A pool of 24 blocks of 4 tokens holds about one group of two 24-token responses: the worker takes
// prompts as room frees up and never preempts.
TEST(KvAdmission, AWorkerWithASmallPoolNeverPreempts) {
    RolloutRig rig("kv-admission",
                   {"rollout.segment_tokens=0", "rollout.kv_blocks=24", "rollout.block_size=4"});
    RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    rig.run(w, stop);
    EXPECT_EQ(rig.samples().size(), 12u);
    EXPECT_GT(w.stats().kv_limited_requests.load(), 0) << "the KV budget, not the seats, was the limit";
    EXPECT_EQ(w.stats().preemptions.load(), 0);
}

// Segment rollout in the same pool: one segment is charged per sample, so groups run side by side;
// when carried-over responses outgrow the pool the parked ones are evicted and re-prefilled, and
// still every group is delivered.
TEST(KvAdmission, SegmentsLetMoreGroupsShareASmallPool) {
    RolloutRig rig("kv-admission-seg",
                   {"rollout.segment_tokens=4", "rollout.kv_blocks=24", "rollout.block_size=4"});
    RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    rig.run(w, stop);
    EXPECT_EQ(rig.samples().size(), 12u);
    EXPECT_GT(w.stats().batch_seqs.load(), 2 * w.stats().engine_steps.load())
        << "more than one group decoded at a time on average";
}
