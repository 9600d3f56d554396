// tests/rollout/test_rollout_refused.cpp: a group the buffer refuses as invalid (validation at the
// door) is logged and dropped by the rollout worker, counted in groups_refused, and the worker goes on
// to the end of the job instead of failing (and, resumed, failing again on the same group).
#include <gtest/gtest.h>

#include "tests/rollout/rollout_test_util.h"

using namespace stride;
using stride::test::RolloutRig;

TEST(RolloutRefused, AnInvalidGroupIsDroppedNotFatal) {
    // A buffer whose vocabulary is a single token: every generated group holds an id outside it.
    RolloutRig rig("refused", {"rollout.segment_tokens=0"}, 4,
                   [](BufferServerConfig& bc) { bc.vocab_size = 1; });
    RolloutWorker w(rig.ctx(), "rollout-0", rig.endpoints());
    std::atomic<bool> stop{false};
    EXPECT_NO_THROW(rig.run(w, stop));
    const RolloutStats& st = w.stats();
    EXPECT_EQ(st.prompts_taken, 4);
    EXPECT_EQ(st.groups_refused, 4);
    EXPECT_EQ(st.groups, 0);
    EXPECT_EQ(st.groups_in_flight, 0);
    // Nothing reached the buffer, and no in-flight record is left to resume the bad groups from.
    v1::BufferStats bs = rig.buffer_stats();
    EXPECT_EQ(bs.stored_samples(), 0u);
    EXPECT_EQ(bs.rejected_invalid(), 4u);
    EXPECT_TRUE(rig.partials().empty());
}
