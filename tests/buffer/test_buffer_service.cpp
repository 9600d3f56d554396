// tests/buffer/test_buffer_service.cpp: the buffer's put / pull / commit protocol over real loopback
// sockets and a real RocksDB in a temp dir: acks, grouping, leases, staleness, back-pressure,
// deduplication and idempotent retries.
#include <gtest/gtest.h>

#include <set>

#include "buffer/buffer_client.h"
#include "buffer/buffer_server.h"
#include "common/base/error.h"
#include "tests/buffer/buffer_test_util.h"

using namespace stride;
using stride::test::fast_options;
using stride::test::make_groups;
using stride::test::make_sample;
using stride::test::numbered;
using stride::test::TempDir;
using stride::test::test_config;

namespace {}  // namespace

TEST(BufferService, PutAckPullCommit) {
    TempDir dir("buf-basic");
    BufferServerConfig cfg = test_config(dir.sub("db"), 4);
    cfg.sync_wal = true;
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());

    auto samples = make_groups("g", 3, 4);
    samples.push_back(make_sample("partial", 0));  // a group that never completes
    v1::PutAck ack = client.put(samples);
    EXPECT_EQ(ack.durable_sample_ids_size(), 13);
    EXPECT_EQ(ack.duplicates(), 0u);

    v1::BufferStats st = client.stats();
    EXPECT_EQ(st.stored_samples(), 13u);
    EXPECT_EQ(st.groups_complete(), 3u);
    EXPECT_EQ(st.groups_incomplete(), 1u);

    // Not enough complete groups: an empty batch, nothing leased.
    v1::Batch none = client.pull(4, 0);
    EXPECT_EQ(none.batch_id(), 0u);
    EXPECT_EQ(none.groups_size(), 0);
    EXPECT_EQ(none.groups_available(), 3u);

    v1::Batch b = client.pull(2, 0);
    ASSERT_NE(b.batch_id(), 0u);
    ASSERT_EQ(b.groups_size(), 2);
    for (const auto& g : b.groups()) {
        ASSERT_EQ(g.samples_size(), 4);
        for (int i = 0; i < 4; ++i) {
            EXPECT_EQ(g.samples(i).index_in_group(), uint32_t(i));  // ordered within the group
            EXPECT_EQ(g.samples(i).group_id(), g.group_id());
            EXPECT_EQ(g.samples(i).response_token_ids_size(), 8);
        }
    }
    EXPECT_EQ(b.groups_available(), 1u);
    st = client.stats();
    EXPECT_EQ(st.groups_leased(), 2u);
    EXPECT_EQ(st.leases_open(), 1u);

    v1::CommitAck c = client.commit(b.batch_id());
    EXPECT_EQ(c.groups(), 2u);
    EXPECT_EQ(c.samples(), 8u);
    EXPECT_FALSE(c.already_committed());
    // A retried commit (lost ack) is acknowledged, not an error.
    EXPECT_TRUE(client.commit(b.batch_id()).already_committed());
    EXPECT_THROW(client.commit(987654), stride::Error);  // never leased

    st = client.stats();
    EXPECT_EQ(st.stored_samples(), 5u);
    EXPECT_EQ(st.commits(), 1u);
    EXPECT_EQ(st.samples_committed(), 8u);
    EXPECT_EQ(st.rejected_unknown_batch(), 1u);

    // Partial pull takes what is there.
    v1::Batch rest = client.pull(5, 0, /*allow_partial=*/true);
    EXPECT_EQ(rest.groups_size(), 1);
    EXPECT_GT(rest.batch_id(), b.batch_id());
}

TEST(BufferService, RetriedPutIsDeduplicated) {
    TempDir dir("buf-dedupe");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());
    auto samples = make_groups("d", 2, 2);
    client.put(samples);
    v1::PutAck again = client.put(samples);  // as if the first ack had been lost
    EXPECT_EQ(again.durable_sample_ids_size(), 4);
    EXPECT_EQ(again.duplicates(), 4u);
    // Duplicates inside one put count once as stored.
    v1::PutAck twice = client.put({make_sample("e", 0), make_sample("e", 0)});
    EXPECT_EQ(twice.duplicates(), 1u);
    v1::BufferStats st = client.stats();
    EXPECT_EQ(st.stored_samples(), 5u);
    EXPECT_EQ(st.samples_duplicate(), 5u);
}

TEST(BufferService, InvalidSamplesAreRejectedWhole) {
    TempDir dir("buf-invalid");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());

    v1::Sample bad_index = make_sample("x", 5);  // index 5 in a group of 2
    EXPECT_THROW(client.put({make_sample("ok", 0), bad_index}), stride::Error);
    v1::Sample bad_lp = make_sample("y", 0);
    bad_lp.add_behaviour_logprob(0.f);  // one logprob too many
    EXPECT_THROW(client.put({bad_lp}), stride::Error);
    v1::Sample bad_n = make_sample("z", 0);
    bad_n.set_group_size(16);
    EXPECT_THROW(client.put({bad_n}), stride::Error);
    client.put(make_groups("full", 1, 2));
    v1::Sample third = make_sample("full0", 2);
    third.set_index_in_group(1);
    third.set_sample_id("full0-extra");  // a third distinct member of a group of 2
    EXPECT_THROW(client.put({third}), stride::Error);

    v1::BufferStats st = client.stats();
    EXPECT_EQ(st.rejected_invalid(), 4u);
    EXPECT_EQ(st.stored_samples(), 2u);  // "ok" from the first put was not stored either

    // A trainer configured for another group size is told so.
    v1::Envelope env = make_envelope(cfg.job_id);
    env.mutable_pull_batch()->set_num_groups(1);
    env.mutable_pull_batch()->set_group_size(8);
    RequestClient raw(ctx, server.endpoint(), cfg.job_id);
    auto rep = raw.call(env, 2000);
    ASSERT_TRUE(rep && rep->has_error());
    EXPECT_EQ(rep->error().code(), v1::ERROR_CODE_INVALID_ARGUMENT);
    EXPECT_NE(rep->error().message().find("group_size 8"), std::string::npos);
}

TEST(BufferService, StaleGroupsAreDroppedWholeAndCounted) {
    TempDir dir("buf-stale");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    cfg.max_staleness = 2;
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());

    client.put(make_groups("v5-", 2, 2, /*version=*/5));
    client.put(make_groups("v8-", 1, 2, /*version=*/8));
    // One group mixes versions: member 1 has a token from version 4 (segment rollout) -> its oldest
    // token is 4, so the whole group is as stale as version 4.
    v1::Sample mixed0 = make_sample("mixed", 0, 8);
    v1::Sample mixed1 = make_sample("mixed", 1, 8);
    mixed1.set_token_version(0, 4);
    client.put({mixed0, mixed1});
    client.put({make_sample("lonely", 0, 1)});  // incomplete and stale: dropped too

    // Trainer at version 7, η = 2: keep oldest version >= 5. Drops "mixed" (4) and "lonely" (1).
    v1::Batch b = client.pull(10, 7, /*allow_partial=*/true);
    EXPECT_EQ(b.dropped_stale_groups(), 2u);
    EXPECT_EQ(b.groups_size(), 3);
    std::set<std::string> got;
    for (const auto& g : b.groups()) got.insert(g.group_id());
    EXPECT_EQ(got, (std::set<std::string>{"v5-0", "v5-1", "v8-0"}));

    v1::BufferStats st = client.stats();
    EXPECT_EQ(st.dropped_stale_groups(), 2u);
    EXPECT_EQ(st.dropped_stale_samples(), 3u);
    EXPECT_EQ(st.stored_samples(), 6u);  // the leased ones

    // Leased groups are the trainer's: a later pull at version 100 does not drop them.
    client.put(make_groups("new", 1, 2, 100));
    v1::Batch b2 = client.pull(1, 100);
    EXPECT_EQ(b2.dropped_stale_groups(), 0u);
    EXPECT_EQ(b2.groups(0).group_id(), "new0");
    EXPECT_EQ(client.stats().groups_leased(), 4u);
}

TEST(BufferService, BackPressureRejectsNewGroupsWhenFull) {
    TempDir dir("buf-full");
    BufferServerConfig cfg = test_config(dir.sub("db"), 4);
    cfg.capacity_samples = 8;
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClientOptions opt = fast_options();
    opt.deadline_ms = 300;  // give up quickly instead of waiting for room
    BufferClient client(ctx, server.endpoint(), cfg.job_id, opt);

    client.put(make_groups("a", 1, 4));
    client.put({make_sample("b0", 0), make_sample("b0", 1)});         // 6 stored, b0 half done
    EXPECT_THROW(client.put(make_groups("c", 1, 4)), stride::Error);  // 10 > 8: BUSY until deadline
    EXPECT_GE(client.busy_retries(), 1u);
    v1::BufferStats st = client.stats();
    EXPECT_GE(st.rejected_busy(), 1u);
    EXPECT_EQ(st.stored_samples(), 6u);  // nothing of the busy put was stored

    // A started group may always finish, even past capacity: no deadlock on half-done groups.
    client.put({make_sample("b0", 2), make_sample("b0", 3)});
    EXPECT_EQ(client.stats().stored_samples(), 8u);

    // Room frees up after a commit; a retrying producer then gets through.
    v1::Batch b = client.pull(2, 0);
    client.commit(b.batch_id());
    BufferClient patient(ctx, server.endpoint(), cfg.job_id, fast_options());
    EXPECT_EQ(patient.put(make_groups("c", 1, 4)).durable_sample_ids_size(), 4);
}

TEST(BufferService, RetriedPullReturnsTheSameLease) {
    TempDir dir("buf-pullretry");
    BufferServerConfig cfg = test_config(dir.sub("db"), 1);
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient producer(ctx, server.endpoint(), cfg.job_id, fast_options());
    producer.put(make_groups("r", 4, 1));

    RequestClient raw(ctx, server.endpoint(), cfg.job_id);
    v1::Envelope env = make_envelope(cfg.job_id);
    auto* p = env.mutable_pull_batch();
    p->set_num_groups(2);
    p->set_trainer_id("t0");
    p->set_request_id(77);
    auto first = raw.call(env, 2000);
    auto second = raw.call(env, 2000);  // as if the first reply had been lost
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->batch().batch_id(), second->batch().batch_id());
    EXPECT_EQ(second->batch().groups_size(), 2);
    EXPECT_EQ(producer.stats().leases_open(), 1u);
    p->set_request_id(78);
    auto third = raw.call(env, 2000);
    EXPECT_NE(third->batch().batch_id(), first->batch().batch_id());
}

TEST(BufferService, ManyProducersConcurrently) {
    TempDir dir("buf-concurrent");
    BufferServerConfig cfg = test_config(dir.sub("db"), 4);
    BufferServer server(cfg);
    server.start();
    constexpr int kProducers = 4, kPuts = 25;
    std::vector<std::thread> threads;
    for (int t = 0; t < kProducers; ++t)
        threads.emplace_back([&, t] {
            ZmqContext ctx;
            BufferClient c(ctx, server.endpoint(), cfg.job_id, fast_options());
            for (int i = 0; i < kPuts; ++i) c.put(make_groups(numbered(numbered("p", t), i), 1, 4));
        });
    for (auto& t : threads) t.join();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());
    v1::BufferStats st = client.stats();
    EXPECT_EQ(st.stored_samples(), uint64_t(kProducers * kPuts * 4));
    EXPECT_EQ(st.groups_complete(), uint64_t(kProducers * kPuts));
    EXPECT_LE(st.write_batches(), st.puts());  // group commit never writes more often than puts
}
