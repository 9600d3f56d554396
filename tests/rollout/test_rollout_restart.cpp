// In-flight groups survive a restart of the rollout worker: a worker stopped in the middle of
// generation saves its unfinished groups in the buffer; the next worker with the same id resumes them
// (re-prefilling the tokens so far) and draws exactly the tokens an uninterrupted run draws. Every
// prompt dispatched ends in the buffer exactly once, also when a resumed job's scheduler hands the
// in-flight prompts out again.
#include <gtest/gtest.h>

#include "tests/rollout/rollout_test_util.h"

using namespace stride;
using stride::test::RolloutRig;

namespace {

std::vector<int> tokens(const v1::Sample& s) {
    return {s.response_token_ids().begin(), s.response_token_ids().end()};
}

std::map<std::string, v1::Sample> uninterrupted() {
    RolloutRig rig("restart-ref", {});
    RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    rig.run(w, stop);
    return rig.samples();
}

// Stops a worker one step into its third round; returns its stats' group count.
int64_t run_until_round_3(RolloutRig& rig) {
    RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    w.set_round_hook([&](int64_t rounds) {
        if (rounds == 2) stop = true;  // the worker still begins round 3, takes one step, then saves
    });
    rig.run(w, stop);
    EXPECT_GT(w.stats().groups_in_flight.load(), 0) << "stopped with groups in flight";
    return w.stats().groups.load();
}

void expect_same_samples(const std::map<std::string, v1::Sample>& got,
                         const std::map<std::string, v1::Sample>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [id, w] : want) {
        const v1::Sample& g = got.at(id);
        EXPECT_EQ(tokens(g), tokens(w)) << id;
        for (int j = 0; j < g.behaviour_logprob_size() && j < w.behaviour_logprob_size(); ++j)
            EXPECT_NEAR(g.behaviour_logprob(j), w.behaviour_logprob(j), 1e-4) << id << " token " << j;
        EXPECT_EQ(g.token_version_size(), g.response_token_ids_size());
        EXPECT_GE(g.segment_count(), w.segment_count()) << "a resume starts a segment of its own";
    }
}

}  // namespace

TEST(RolloutRestart, AStoppedWorkersGroupsAreResumedByItsSuccessor) {
    const auto want = uninterrupted();
    RolloutRig rig("restart", {});
    const int64_t first = run_until_round_3(rig);
    const auto saved = rig.partials();
    ASSERT_FALSE(saved.empty());
    int with_tokens = 0;
    for (const auto& g : saved) {
        EXPECT_EQ(g.worker_id(), "rollout-0");
        EXPECT_EQ(g.finished_size() + g.unfinished_size(), 2);
        for (const auto& u : g.unfinished()) {
            with_tokens += u.response_token_ids_size() > 8;  // two rounds and a step into the third
            EXPECT_EQ(u.behaviour_logprob_size(), u.response_token_ids_size());
            EXPECT_EQ(u.finish_reason(), v1::FINISH_REASON_UNSPECIFIED);
        }
    }
    EXPECT_GT(with_tokens, 0);

    RolloutWorker next(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    rig.run(next, stop);
    EXPECT_EQ(next.stats().groups_resumed.load(), static_cast<int64_t>(saved.size()));
    EXPECT_EQ(first + next.stats().groups.load(), rig.dispatcher().dispatched())
        << "each group delivered once";
    const auto got = rig.samples();
    EXPECT_EQ(static_cast<int64_t>(got.size()), rig.dispatcher().dispatched() * 2);
    EXPECT_TRUE(rig.partials().empty());
    expect_same_samples(got, want);
}

// A resumed job's scheduler starts again at its checkpointed cursor (here: the first prompt) and
// hands out prompts that are still in flight: the worker resuming them skips those; prompts whose
// groups are already in the buffer are generated again and deduplicated by the buffer.
TEST(RolloutRestart, PromptsHandedOutAgainAfterAJobResumeAreNotStartedTwice) {
    const auto want = uninterrupted();
    RolloutRig rig("restart-job", {});
    run_until_round_3(rig);
    const size_t in_flight = rig.partials().size();
    rig.start_dispatcher(0);
    RolloutWorker next(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    rig.run(next, stop);
    EXPECT_EQ(next.stats().groups_resumed.load(), static_cast<int64_t>(in_flight));
    EXPECT_EQ(next.stats().prompts_skipped.load(), static_cast<int64_t>(in_flight));
    const auto got = rig.samples();
    EXPECT_EQ(got.size(), 12u) << "six groups, each exactly once";
    EXPECT_EQ(rig.buffer_stats().groups_incomplete(), 0u);
    EXPECT_TRUE(rig.partials().empty());
    expect_same_samples(got, want);
}
