// tests/buffer/test_buffer_progress.cpp: commit is part of the checkpoint (buffer/README.md, "Progress
// truth"). A step-tagged commit keeps the batch until CheckpointDurable covers its step; a resume from
// an older checkpoint serves again what later steps trained and drops what discarded versions made.
// Real RocksDB and ZeroMQ; restarts reopen the same directory.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "buffer/buffer_server.h"
#include "buffer_test_util.h"

namespace stride::test {

namespace {

std::set<std::string> group_ids(const v1::Batch& b) {
    std::set<std::string> out;
    for (const auto& g : b.groups()) out.insert(g.group_id());
    return out;
}

}  // namespace

TEST(BufferProgress, AStepCommitKeepsTheBatchUntilItsCheckpointIsDurable) {
    TempDir dir("buf-progress-keep");
    BufferServer server(test_config(dir.sub("db"), 2));
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
    client.put(make_groups("g", 3, 2));
    v1::Batch b = client.pull(2, 0);
    ASSERT_EQ(b.groups_size(), 2);
    EXPECT_EQ(client.commit(b.batch_id(), 1).groups(), 2u);
    // Trained, kept on disk, but never served again.
    EXPECT_EQ(client.stats().stored_samples(), 6u);
    EXPECT_EQ(client.pull(2, 1, /*allow_partial=*/true).groups_size(), 1);
    EXPECT_TRUE(client.commit(b.batch_id(), 1).already_committed());  // a retry
    // The checkpoint of step 1 lands: its groups are done for good.
    v1::CheckpointDurableAck ack = client.checkpoint_durable(1);
    EXPECT_EQ(ack.groups(), 2u);
    EXPECT_EQ(ack.samples(), 4u);
    EXPECT_EQ(client.stats().stored_samples(), 2u);
}

TEST(BufferProgress, ADoneGroupPutAgainIsAcknowledgedNotStored) {
    TempDir dir("buf-progress-done");
    const std::string db = dir.sub("db");
    {
        BufferServer server(test_config(db, 2));
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
        client.put(make_groups("g", 1, 2));
        v1::Batch b = client.pull(1, 0);
        client.commit(b.batch_id(), 1);
        client.checkpoint_durable(1);
    }
    // Also after a restart: a resumed scheduler that dispatches the prompt again cannot get it trained twice.
    BufferServer server(test_config(db, 2));
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
    v1::PutAck ack = client.put(make_groups("g", 1, 2, /*version=*/3));
    EXPECT_EQ(ack.duplicates(), 2u);
    EXPECT_EQ(client.stats().stored_samples(), 0u);
    EXPECT_EQ(client.pull(1, 3, true).groups_size(), 0);
}

// Steps 1..3 trained, the checkpoint of step 1 durable, a crash: the trainer resumes at step 1 (policy
// version 1). Step 2's batch (made by version 1) is served again; step 3's (made by version 2, which
// the resume discarded) and a group version 2 made that was never pulled are dropped.
TEST(BufferProgress, AResumeServesAgainWhatLaterStepsTrainedAndDropsDiscardedVersions) {
    TempDir dir("buf-progress-resume");
    BufferServer server(test_config(dir.sub("db"), 2));
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
    client.put(make_groups("s1-", 1, 2, 0));
    client.commit(client.pull(1, 0).batch_id(), 1);
    client.checkpoint_durable(1);
    client.put(make_groups("s2-", 1, 2, 1));
    client.commit(client.pull(1, 1).batch_id(), 2);
    client.put(make_groups("s3-", 1, 2, 2));
    client.commit(client.pull(1, 2).batch_id(), 3);
    client.put(make_groups("late-", 1, 2, 2));    // complete, not pulled yet
    client.put({make_sample("partial-", 0, 1)});  // incomplete, of a surviving version
    v1::Batch leased = client.pull(1, 3);         // step 4 under way: leased, never committed
    ASSERT_EQ(group_ids(leased), std::set<std::string>{"late-0"});

    v1::ReleaseLeasesAck ack = client.resume("trainer resumed", 1, 1);
    EXPECT_EQ(ack.groups_released(), 1u);
    EXPECT_EQ(ack.groups_replayed(), 2u);            // the batches of steps 2 and 3 ...
    EXPECT_EQ(ack.groups_discarded(), 2u);           // ... but step 3's and late-0 were made by version 2
    EXPECT_EQ(client.stats().stored_samples(), 3u);  // s2-0 (2) and partial-0 (1)
    v1::Batch again = client.pull(5, 1, true);
    EXPECT_EQ(group_ids(again), std::set<std::string>{"s2-0"});
    // Applying the same resume again changes nothing.
    ack = client.resume("trainer resumed", 1, 1);
    EXPECT_EQ(ack.groups_replayed() + ack.groups_discarded(), 0u);
    EXPECT_EQ(client.stats().stored_samples(), 3u);
}

TEST(BufferProgress, TrainedBatchesSurviveARestartAndAResumeAtOpenAppliesBeforeServing) {
    TempDir dir("buf-progress-open");
    const std::string db = dir.sub("db");
    {
        BufferServer server(test_config(db, 2));
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
        client.put(make_groups("a", 2, 2, 0));
        client.commit(client.pull(1, 0).batch_id(), 1);
        client.commit(client.pull(1, 1).batch_id(), 2);
        client.put(make_groups("b", 1, 2, 2));
    }
    {  // A plain restart keeps both trained batches (they are no leases to release).
        BufferServer server(test_config(db, 2));
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
        EXPECT_EQ(client.stats().stored_samples(), 6u);
        EXPECT_EQ(group_ids(client.pull(5, 2, true)), std::set<std::string>{"b0"});
    }
    BufferServerConfig cfg = test_config(db, 2);
    cfg.resume_step = 1;  // the job resumes from the checkpoint of step 1
    cfg.resume_version = 1;
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
    EXPECT_EQ(client.stats().stored_samples(), 2u);  // a1 served again; a0 done; b0 discarded
    EXPECT_EQ(group_ids(client.pull(5, 1, true)), std::set<std::string>{"a1"});
    EXPECT_EQ(client.put(make_groups("a", 1, 2, 0)).duplicates(), 2u);  // a0 is done
}

// An in-flight group a discarded version touched is deleted (its prompt is dispatched again); one made
// by surviving versions only is resumed as it is.
TEST(BufferProgress, InFlightGroupsTouchedByADiscardedVersionAreDropped) {
    TempDir dir("buf-progress-partials");
    BufferServer server(test_config(dir.sub("db"), 3));
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
    auto record = [](const std::string& id, int64_t taken_with) {
        v1::InFlightGroup g;
        g.mutable_prompt()->set_prompt_id(id);
        g.mutable_prompt()->set_group_id(id);
        g.set_worker_id("rollout-0");
        g.set_policy_version(taken_with);
        *g.add_finished() = make_sample(id, 0, taken_with);
        return g;
    };
    v1::InFlightGroup mixed = record("p7", 1);
    v1::Sample segmented = make_sample("p7", 1, 1);
    segmented.set_token_version(3, 2);  // a segment of version 2 after one of version 1
    *mixed.add_unfinished() = segmented;
    client.save_partials("rollout-0", {record("p5", 1), mixed, record("p8", 2)});
    EXPECT_EQ(client.resume("trainer resumed", 1, 1).partials_trimmed(), 2u);
    std::vector<v1::InFlightGroup> back = client.load_partials();
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].prompt().group_id(), "p5");
    EXPECT_EQ(back[0].finished_size(), 1);
}

TEST(BufferProgress, TrainedBatchesDoNotCountAgainstCapacity) {
    TempDir dir("buf-progress-capacity");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    cfg.capacity_samples = 4;
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClientOptions o = fast_options(300);
    BufferClient client(ctx, server.endpoint(), "test-job", o);
    client.put(make_groups("g", 2, 2));
    EXPECT_THROW(client.put(make_groups("h", 1, 2)), Error);  // full: BUSY until the deadline
    client.commit(client.pull(2, 0).batch_id(), 1);
    // Only the trainer's next checkpoint can free the trained batch; the next step's groups must get in.
    EXPECT_NO_THROW(client.put(make_groups("h", 2, 2)));
}

// The newest checkpoint (of step 2) was durable, then deleted by hand: the job resumes from step 1.
// The groups step 2 trained are gone from the buffer, and the resumed dispatcher hands their prompts out
// again: they must be stored and trained anew, not refused as done (the trainer would wait forever).
// Step 1's group stays done. Both hold across a restart.
TEST(BufferProgress, AResumeOlderThanTheDurableCheckpointForgetsWhatLaterStepsTrained) {
    TempDir dir("buf-progress-older");
    const std::string db = dir.sub("db");
    {
        BufferServer server(test_config(db, 2));
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
        client.put(make_groups("s1-", 1, 2, 0));
        client.commit(client.pull(1, 0).batch_id(), 1);
        client.checkpoint_durable(1);
        client.put(make_groups("s2-", 1, 2, 1));
        client.commit(client.pull(1, 1).batch_id(), 2);
        client.checkpoint_durable(2);
        EXPECT_EQ(client.put(make_groups("s2-", 1, 2, 1)).duplicates(), 2u);  // done
    }
    BufferServerConfig cfg = test_config(db, 2);
    cfg.resume_step = 1;
    cfg.resume_version = 1;
    {
        BufferServer server(cfg);
        server.start();
    }
    BufferServer server(test_config(db, 2));  // a plain restart after the resume: still forgotten
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
    EXPECT_EQ(client.put(make_groups("s2-", 1, 2, 1)).duplicates(), 0u);  // generated anew: stored
    EXPECT_EQ(client.put(make_groups("s1-", 1, 2, 1)).duplicates(), 2u);  // step 1's: still done
    EXPECT_EQ(group_ids(client.pull(5, 1, true)), std::set<std::string>{"s2-0"});
}

// The prompts of the groups a resume deleted are listed in every ReleaseLeasesAck until they are put
// again, also by a buffer restarted (killed) before the trainer asked.
TEST(BufferProgress, PromptsToDispatchAgainSurviveABufferRestart) {
    TempDir dir("buf-progress-redispatch");
    const std::string db = dir.sub("db");
    auto listed = [](const v1::ReleaseLeasesAck& ack) {
        return std::set<std::string>(ack.redispatch_prompt_ids().begin(), ack.redispatch_prompt_ids().end());
    };
    {
        BufferServer server(test_config(db, 2));
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
        client.put(make_groups("p", 2, 2, 0));       // p0, p1: version 0
        client.put({make_groups("p", 3, 2, 2)[4]});  // p2: one sample of version 2
        v1::InFlightGroup g;
        g.mutable_prompt()->set_prompt_id("p7");
        g.mutable_prompt()->set_group_id("p7");
        g.set_worker_id("rollout-0");
        g.set_policy_version(2);
        client.save_partials("rollout-0", {g});
    }
    BufferServerConfig cfg = test_config(db, 2);
    cfg.resume_step = 0;  // resumed at version 0: p2 and the in-flight p7 were made by a discarded one
    cfg.resume_version = 0;
    { BufferServer server(cfg); }  // applied at open; the buffer dies before anyone asks
    {
        BufferServer server(test_config(db, 2));
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
        EXPECT_EQ(listed(client.release_leases("trainer started")), (std::set<std::string>{"p2", "p7"}));
        client.put({make_groups("p", 3, 2, 0)[4]});  // p2 generated again
    }
    BufferServer server(test_config(db, 2));
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), "test-job", fast_options());
    EXPECT_EQ(listed(client.release_leases("trainer started")), std::set<std::string>{"p7"});
}

}  // namespace stride::test
