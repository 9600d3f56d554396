// tests/buffer/test_buffer_partials.cpp: rollout workers' in-flight groups kept in the buffer. A save
// replaces the worker's whole set (and only that worker's), survives a buffer restart, is returned
// by a load with every worker's records, and a put that names its owner deletes the records of the
// groups it completes in the same write.
#include <gtest/gtest.h>

#include <map>

#include "buffer/buffer_client.h"
#include "buffer/buffer_server.h"
#include "common/base/error.h"
#include "tests/buffer/buffer_test_util.h"

using namespace stride;
using stride::test::fast_options;
using stride::test::make_sample;
using stride::test::TempDir;
using stride::test::test_config;

namespace {

// An in-flight group: sample 0 finished, sample 1 with `tokens` tokens so far.
v1::InFlightGroup inflight(const std::string& group, const std::string& worker, int tokens) {
    v1::InFlightGroup g;
    g.mutable_prompt()->set_prompt_id(group);
    g.mutable_prompt()->set_group_id(group);
    g.mutable_prompt()->add_token_ids(3);
    g.set_worker_id(worker);
    *g.add_finished() = make_sample(group, 0);
    v1::Sample* u = g.add_unfinished();
    *u = make_sample(group, 1, 0, tokens);
    u->set_finish_reason(v1::FINISH_REASON_UNSPECIFIED);
    return g;
}

// group id -> (worker, unfinished tokens)
std::map<std::string, std::pair<std::string, int>> loaded(BufferClient& c) {
    std::map<std::string, std::pair<std::string, int>> m;
    for (const auto& g : c.load_partials())
        m[g.prompt().group_id()] = {g.worker_id(), g.unfinished(0).response_token_ids_size()};
    return m;
}

}  // namespace

TEST(BufferPartials, SaveReplacesOneWorkersSetAndSurvivesARestart) {
    TempDir dir("buf-partials");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    {
        BufferServer server(cfg);
        server.start();
        ZmqContext ctx;
        BufferClient c(ctx, server.endpoint(), cfg.job_id, fast_options());
        EXPECT_TRUE(c.load_partials().empty());
        auto ack =
            c.save_partials("rollout-0", {inflight("a", "rollout-0", 4), inflight("b", "rollout-0", 4)});
        EXPECT_EQ(ack.groups_stored(), 2u);
        c.save_partials("rollout-1", {inflight("c", "rollout-1", 2)});
        // The next round: a is gone (finished elsewhere or given up), b grew, d is new.
        ack = c.save_partials("rollout-0", {inflight("b", "rollout-0", 8), inflight("d", "rollout-0", 0)});
        EXPECT_EQ(ack.groups_removed(), 1u);
        auto m = loaded(c);
        ASSERT_EQ(m.size(), 3u);
        EXPECT_EQ(m.at("b"), std::make_pair(std::string("rollout-0"), 8));
        EXPECT_EQ(m.at("c"), std::make_pair(std::string("rollout-1"), 2));
        EXPECT_EQ(m.at("d").second, 0);
        // In-flight records are not samples: nothing is pullable.
        EXPECT_EQ(c.stats().stored_samples(), 0u);
    }
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient c(ctx, server.endpoint(), cfg.job_id, fast_options());
    auto m = loaded(c);
    EXPECT_EQ(m.size(), 3u) << "in-flight records are durable";
    EXPECT_EQ(m.at("b").second, 8);
}

TEST(BufferPartials, APutNamingItsOwnerRetiresTheRecordAtomically) {
    TempDir dir("buf-partials-put");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient c(ctx, server.endpoint(), cfg.job_id, fast_options());
    c.save_partials("rollout-0", {inflight("a", "rollout-0", 4), inflight("b", "rollout-0", 4)});
    c.save_partials("rollout-1", {inflight("a2", "rollout-1", 4)});
    c.put({make_sample("a", 0), make_sample("a", 1)}, "rollout-0");
    // Another owner's records and other groups stay; a put without an owner touches none.
    c.put({make_sample("a2", 0), make_sample("a2", 1)});
    auto m = loaded(c);
    EXPECT_EQ(m.size(), 2u);
    EXPECT_TRUE(m.count("b"));
    EXPECT_TRUE(m.count("a2"));
    EXPECT_EQ(c.stats().groups_complete(), 2u);
    // A retried put (all duplicates) still retires the record.
    c.put({make_sample("a2", 0), make_sample("a2", 1)}, "rollout-1");
    EXPECT_EQ(loaded(c).size(), 1u);
}

TEST(BufferPartials, BadSavesAreRefusedWithAReason) {
    TempDir dir("buf-partials-bad");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient c(ctx, server.endpoint(), cfg.job_id, fast_options());
    EXPECT_THROW(c.save_partials("", {inflight("a", "", 1)}), Error);
    v1::InFlightGroup nameless = inflight("a", "w", 1);
    nameless.mutable_prompt()->clear_group_id();
    EXPECT_THROW(c.save_partials("w", {nameless}), Error);
    try {
        c.save_partials("w", {inflight("a", "w", 1), inflight("a", "w", 2)});
        FAIL() << "a group saved twice must be refused";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("saved twice"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(c.load_partials().empty()) << "a refused save stores nothing";
}
