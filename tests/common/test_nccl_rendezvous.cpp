// tests/common/test_nccl_rendezvous.cpp: the rendezvous of the NCCL weight group
// (common/nccl_rendezvous.h) over real ZeroMQ sockets: the trainer's unique id reaches every worker
// byte for byte with its rank; a late worker, a restarted worker (a new instance) and a lost one make
// the trainer form a new generation; malformed requests are refused naming the problem.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>

#include "common/base/error.h"
#include "common/nccl_rendezvous.h"

namespace stride {
namespace {

// The registry's side on a real ROUTER socket, served from a thread (as scheduler/registry.cpp does).
struct RendezvousServer : NcclRendezvousServer {
    explicit RendezvousServer(double lost_after_s)
        : NcclRendezvousServer("job", "tcp://127.0.0.1:*", lost_after_s) {}
};

std::string random_unique_id(uint32_t seed) {
    std::mt19937 rng(seed);
    std::string id(kNcclUniqueIdBytes, '\0');
    for (char& c : id) c = static_cast<char>(rng() & 0xff);
    id[7] = '\0';  // bytes, not a C string: a zero inside must survive
    return id;
}

struct Member {
    Member(ZmqContext& ctx, const RendezvousServer& s, const std::string& name, const std::string& instance)
        : client(ctx, s.endpoint(), "job", name, instance) {}
    v1::NcclGroup ask(int64_t have = -1) {
        auto g = client.ask(have, 2000);
        if (!g) throw Error("no answer from the rendezvous");
        return *g;
    }
    NcclRendezvousClient client;
};

std::vector<std::string> list(const google::protobuf::RepeatedPtrField<std::string>& f) {
    return {f.begin(), f.end()};
}

TEST(NcclRendezvous, TheTrainersUniqueIdReachesEveryWorkerWithItsRank) {
    RendezvousServer server(30);
    ZmqContext ctx;
    Member trainer(ctx, server, "trainer", "host:1:a"), w0(ctx, server, "rollout-0", "host:2:b"),
        w1(ctx, server, "rollout-1", "host:3:c");
    v1::NcclGroup before = w0.ask();
    EXPECT_EQ(before.generation(), -1);
    EXPECT_EQ(before.rank(), -1);
    w1.ask();
    const v1::NcclGroup seen = trainer.ask();
    EXPECT_EQ(list(seen.waiting()), (std::vector<std::string>{"rollout-0", "rollout-1", "trainer"}));
    const std::vector<std::string> members = next_nccl_members(seen);
    EXPECT_EQ(members, (std::vector<std::string>{"trainer", "rollout-0", "rollout-1"}));

    const std::string id = random_unique_id(1);
    auto formed = trainer.client.form(id, members, 2000);
    ASSERT_TRUE(formed);
    EXPECT_EQ(formed->generation(), 0);
    EXPECT_EQ(formed->rank(), 0);
    EXPECT_TRUE(formed->waiting().empty());
    for (auto* w : {&w0, &w1}) {
        const v1::NcclGroup g = w->ask();
        EXPECT_EQ(g.generation(), 0);
        EXPECT_EQ(g.unique_id(), id) << "the unique id must arrive byte for byte";
        EXPECT_EQ(list(g.members()), members);
    }
    EXPECT_EQ(w0.ask(0).rank(), 1);
    EXPECT_EQ(w1.ask(0).rank(), 2);
}

TEST(NcclRendezvous, ALateWorkerWaitsUntilTheTrainerFormsANewGeneration) {
    RendezvousServer server(30);
    ZmqContext ctx;
    Member trainer(ctx, server, "trainer", "t"), w0(ctx, server, "rollout-0", "a");
    w0.ask();
    trainer.ask();
    ASSERT_TRUE(trainer.client.form(random_unique_id(1), {"trainer", "rollout-0"}, 2000));
    Member late(ctx, server, "rollout-3", "d");
    const v1::NcclGroup g = late.ask();
    EXPECT_EQ(g.generation(), 0);
    EXPECT_EQ(g.rank(), -1) << "not a member of the group formed before it came";
    const v1::NcclGroup t = trainer.ask(0);
    EXPECT_EQ(list(t.waiting()), (std::vector<std::string>{"rollout-3"}));
    const std::string id2 = random_unique_id(2);
    ASSERT_TRUE(trainer.client.form(id2, next_nccl_members(t), 2000));
    const v1::NcclGroup joined = late.ask();
    EXPECT_EQ(joined.generation(), 1);
    EXPECT_EQ(joined.unique_id(), id2);
    EXPECT_EQ(joined.rank(), 2);
    EXPECT_EQ(w0.ask(0).rank(), 1) << "the old member is in the new generation too";
    EXPECT_TRUE(trainer.ask(1).waiting().empty());
}

TEST(NcclRendezvous, ARestartedWorkerIsNotTheMemberItReplacesAndReJoins) {
    RendezvousServer server(30);
    ZmqContext ctx;
    Member trainer(ctx, server, "trainer", "t");
    {
        Member first(ctx, server, "rollout-0", "host:100:x");
        first.ask();
        trainer.ask();
        ASSERT_TRUE(trainer.client.form(random_unique_id(1), {"trainer", "rollout-0"}, 2000));
        EXPECT_EQ(first.ask(0).rank(), 1);
    }
    Member restarted(ctx, server, "rollout-0", "host:200:y");
    EXPECT_EQ(restarted.ask().rank(), -1) << "the old process's rank must not be handed to the new one";
    const v1::NcclGroup t = trainer.ask(0);
    EXPECT_EQ(list(t.waiting()), (std::vector<std::string>{"rollout-0"}));
    ASSERT_TRUE(trainer.client.form(random_unique_id(2), next_nccl_members(t), 2000));
    const v1::NcclGroup g = restarted.ask();
    EXPECT_EQ(g.generation(), 1);
    EXPECT_EQ(g.rank(), 1);
}

TEST(NcclRendezvous, ASilentMemberIsReportedLostAndLeftOutOfTheNextGeneration) {
    RendezvousServer server(1.0);
    ZmqContext ctx;
    Member trainer(ctx, server, "trainer", "t"), w0(ctx, server, "rollout-0", "a"),
        w1(ctx, server, "rollout-1", "b");
    w0.ask();
    w1.ask();
    trainer.ask();
    ASSERT_TRUE(trainer.client.form(random_unique_id(1), {"trainer", "rollout-0", "rollout-1"}, 2000));
    // rollout-1 goes silent; rollout-0 keeps asking.
    for (int i = 0; i < 15; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        w0.ask(0);
    }
    const v1::NcclGroup t = trainer.ask(0);
    EXPECT_EQ(list(t.lost()), (std::vector<std::string>{"rollout-1"}));
    EXPECT_EQ(next_nccl_members(t), (std::vector<std::string>{"trainer", "rollout-0"}));
}

std::string refusal_of(NcclRendezvousClient& c, const std::string& id,
                       const std::vector<std::string>& members) {
    try {
        c.form(id, members, 2000);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(NcclRendezvous, MalformedGroupsAreRefusedNamingTheProblem) {
    RendezvousServer server(30);
    ZmqContext ctx;
    Member trainer(ctx, server, "trainer", "t"), w0(ctx, server, "rollout-0", "a");
    w0.ask();
    trainer.ask();
    const std::string id = random_unique_id(1);
    EXPECT_NE(
        refusal_of(trainer.client, id.substr(0, 100), {"trainer", "rollout-0"}).find("100 bytes, not 128"),
        std::string::npos);
    EXPECT_NE(refusal_of(trainer.client, id, {"rollout-0", "trainer"}).find("must be 'trainer'"),
              std::string::npos);
    EXPECT_NE(
        refusal_of(trainer.client, id, {"trainer", "rollout-0", "rollout-0"}).find("rollout-0 listed twice"),
        std::string::npos);
    EXPECT_NE(refusal_of(trainer.client, id, {"trainer", "rollout-7"}).find("rollout-7 has never asked"),
              std::string::npos);
    EXPECT_NE(refusal_of(w0.client, id, {"trainer", "rollout-0"}).find("only the trainer"),
              std::string::npos);
    // Nothing refused changed the group.
    EXPECT_EQ(trainer.ask().generation(), -1);
    EXPECT_THROW(NcclRendezvousClient(ctx, server.endpoint(), "job", "rollout-01", "x"), Error);
    EXPECT_THROW(NcclRendezvousClient(ctx, server.endpoint(), "job", "critic", "x"), Error);
}

TEST(NcclRendezvous, MemberNames) {
    EXPECT_TRUE(is_nccl_member_name("trainer"));
    EXPECT_TRUE(is_nccl_member_name("rollout-0"));
    EXPECT_TRUE(is_nccl_member_name("rollout-12"));
    EXPECT_FALSE(is_nccl_member_name("rollout-"));
    EXPECT_FALSE(is_nccl_member_name("rollout-01"));
    EXPECT_FALSE(is_nccl_member_name("rollout-1a"));
    EXPECT_FALSE(is_nccl_member_name("buffer"));
}

TEST(NcclRendezvous, NoAnswerIsNulloptWithinTheTimeout) {
    ZmqContext ctx;
    NcclRendezvousClient c(ctx, "tcp://127.0.0.1:9", "job", "rollout-0", "a");  // nothing listens there
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(c.ask(-1, 300));
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 3.0);
}

}  // namespace
}  // namespace stride
