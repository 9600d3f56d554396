// scheduler/registry and scheduler/scheduler_link over real loopback sockets (issue #18): a role
// registers and gets the endpoint map and config hash; another config is refused naming both
// hashes; a duplicate worker id is refused naming both instances; an unreachable scheduler is retried
// and given up after network.connect_timeout_s; job_done reaches every heartbeat. Also the bind keys'
// checks at load (common/bind_endpoint.h). The NCCL weight group's rendezvous (NcclJoin) through the
// registry.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/base/error.h"
#include "common/bind_endpoint.h"
#include "common/nccl_rendezvous.h"
#include "scheduler/config_hash.h"
#include "scheduler/job_config.h"
#include "scheduler/registry.h"
#include "scheduler/scheduler_link.h"

namespace stride {
namespace {

LinkOptions link_to(const Registry& reg, const std::string& role, int worker,
                    const std::string& hash = "h1") {
    LinkOptions o;
    o.scheduler = reg.endpoint();
    o.job_id = "job";
    o.config_hash = hash;
    o.role = role;
    o.worker = worker;
    o.connect_timeout_s = 5;
    o.lost_after_s = 5;
    return o;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "";
}

TEST(Registry, RolesRegisterAndReceiveTheEndpointMap) {
    Registry reg({"job", "h1", "tcp://127.0.0.1:*", 5});
    std::atomic<bool> stop{false};
    SchedulerLink buffer(link_to(reg, "buffer", 0));
    EXPECT_TRUE(buffer.join({{"buffer", "tcp://198.18.0.2:5555"}}, {}, stop).count("buffer"));
    // The rollout worker waits until prompts and weights are offered too.
    EndpointMap got;
    std::thread rollout([&] {
        got = SchedulerLink(link_to(reg, "rollout", 1)).join({}, {"prompts", "weights"}, stop);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(got.empty());
    SchedulerLink trainer(link_to(reg, "trainer", 0));
    v1::RoleHello start;
    start.set_has_start(true);
    start.set_start_prompt(12);
    trainer.join({{"weights", "tcp://198.18.0.3:6000"}}, {}, stop, start);
    const auto t = reg.wait_for_trainer(stop);
    ASSERT_TRUE(t);
    EXPECT_EQ(t->weights, "tcp://198.18.0.3:6000");
    EXPECT_EQ(t->start_prompt, 12);
    reg.offer("prompts", "tcp://198.18.0.1:7000");
    rollout.join();
    EXPECT_EQ(got["buffer"], "tcp://198.18.0.2:5555");
    EXPECT_EQ(got["weights"], "tcp://198.18.0.3:6000");
    EXPECT_EQ(got["prompts"], "tcp://198.18.0.1:7000");
}

TEST(Registry, TheNcclWeightGroupFormsAtTheRegistry) {
    Registry reg({"job", "h1", "tcp://127.0.0.1:*", 5});
    ZmqContext ctx;
    NcclRendezvousClient trainer(ctx, reg.endpoint(), "job", "trainer", "t:1");
    NcclRendezvousClient worker(ctx, reg.endpoint(), "job", "rollout-0", "w:2");
    ASSERT_TRUE(worker.ask(-1, 2000));
    auto seen = trainer.ask(-1, 2000);
    ASSERT_TRUE(seen);
    const std::string id(kNcclUniqueIdBytes, '\x5a');
    auto formed = trainer.form(id, next_nccl_members(*seen), 2000);
    ASSERT_TRUE(formed);
    EXPECT_EQ(formed->rank(), 0);
    auto g = worker.ask(-1, 2000);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->generation(), 0);
    EXPECT_EQ(g->unique_id(), id);
    EXPECT_EQ(g->rank(), 1);
    // Another job learns nothing: the client reports the refusal.
    NcclRendezvousClient stranger(ctx, reg.endpoint(), "other-job", "rollout-1", "s:3");
    EXPECT_THROW(stranger.ask(-1, 2000), Error);
}

TEST(Registry, AnotherConfigIsRefusedNamingBothHashes) {
    Registry reg({"job", "aaaa1111", "tcp://127.0.0.1:*", 5});
    std::atomic<bool> stop{false};
    const std::string msg =
        error_of([&] { SchedulerLink(link_to(reg, "rollout", 0, "bbbb2222")).join({}, {}, stop); });
    EXPECT_NE(msg.find("aaaa1111"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bbbb2222"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rollout-0"), std::string::npos) << msg;
    EXPECT_EQ(reg.refused(), 1u);
}

TEST(Registry, ADuplicateWorkerIdIsRefusedWhileTheFirstIsAlive) {
    Registry reg({"job", "h1", "tcp://127.0.0.1:*", 5});
    std::atomic<bool> stop{false};
    SchedulerLink first(link_to(reg, "rollout", 3));
    first.join({}, {}, stop);
    first.join({}, {}, stop);  // the same instance again (a retry, a heartbeat) is fine
    SchedulerLink second(link_to(reg, "rollout", 3));
    const std::string msg = error_of([&] { second.join({}, {}, stop); });
    EXPECT_NE(msg.find("rollout-3"), std::string::npos) << msg;
    EXPECT_NE(msg.find(first.instance()), std::string::npos) << msg;
    EXPECT_NE(msg.find(second.instance()), std::string::npos) << msg;
    EXPECT_EQ(error_of([&] { SchedulerLink(link_to(reg, "rollout", 4)).join({}, {}, stop); }), "");
}

TEST(Registry, AnotherJobIsRefusedWithoutLearningItsName) {
    Registry reg({"secret-job", "h1", "tcp://127.0.0.1:*", 5});
    std::atomic<bool> stop{false};
    const std::string msg = error_of([&] { SchedulerLink(link_to(reg, "buffer", 0)).join({}, {}, stop); });
    EXPECT_NE(msg.find("another job"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("secret-job"), std::string::npos) << msg;
}

TEST(Registry, AnUnreachableSchedulerIsRetriedThenGivenUpNamingIt) {
    LinkOptions o;
    o.scheduler = "tcp://127.0.0.1:9";  // discard port: nobody answers
    o.job_id = "job";
    o.role = "trainer";
    o.connect_timeout_s = 2;
    std::atomic<bool> stop{false};
    const auto t0 = std::chrono::steady_clock::now();
    const std::string msg = error_of([&] { SchedulerLink(o).join({}, {"buffer"}, stop); });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_NE(msg.find("tcp://127.0.0.1:9"), std::string::npos) << msg;
    EXPECT_NE(msg.find("network.connect_timeout_s"), std::string::npos) << msg;
    EXPECT_GE(s, 2.0);
    EXPECT_LT(s, 6.0);
    // A stop ends the retries at once.
    std::atomic<bool> stopped{true};
    EXPECT_TRUE(SchedulerLink(o).join({}, {"buffer"}, stopped).empty());
}

TEST(Registry, JobDoneReachesEveryHeartbeat) {
    Registry reg({"job", "h1", "tcp://127.0.0.1:*", 5});
    std::atomic<bool> never{false}, buffer_stop{false};
    SchedulerLink buffer(link_to(reg, "buffer", 0));
    buffer.join({}, {}, never);
    buffer.start_heartbeat(&buffer_stop);
    SchedulerLink trainer(link_to(reg, "trainer", 0));
    trainer.join({}, {}, never);
    EXPECT_FALSE(reg.job_done());
    EXPECT_TRUE(trainer.announce_finished());
    EXPECT_TRUE(reg.job_done());
    for (int i = 0; i < 100 && !buffer_stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(buffer_stop);
    EXPECT_TRUE(buffer.job_done());
    EXPECT_TRUE(reg.all_told());
}

// A member silent for lost_after_s is reported lost once (the dispatcher then hands out its prompts
// again); one that speaks again is back and may be lost again later.
TEST(Registry, ASilentMemberIsReportedLostOnceAndComesBack) {
    Registry reg({"job", "h1", "tcp://127.0.0.1:*", 0.5});
    std::mutex mu;
    std::vector<std::string> lost;
    reg.on_lost([&](const std::string& id) {
        std::lock_guard<std::mutex> lock(mu);
        lost.push_back(id);
    });
    std::atomic<bool> stop{false};
    {
        SchedulerLink rollout(link_to(reg, "rollout", 3));
        rollout.join({}, {}, stop);  // registers, then falls silent (no heartbeat thread)
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        std::lock_guard<std::mutex> lock(mu);
        EXPECT_EQ(lost, std::vector<std::string>{"rollout-3"});  // once, not every check
        rollout.join({}, {}, stop);  // back: the same instance speaks again, then is silent again
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    reg.on_lost({});  // mu and lost go before reg
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(lost, (std::vector<std::string>{"rollout-3", "rollout-3"}));
}

TEST(BindEndpoint, KeysAreCheckedAtLoadNamingTheKey) {
    auto load_error = [](const std::vector<std::string>& overrides) {
        return error_of([&] {
            parse_job_config("tokenizer: t.json\ndata: {train: 'gen:arith?n=10&seed=1'}\n", "t.yaml",
                             overrides);
        });
    };
    EXPECT_EQ(load_error({"network.weights_bind=tcp://*:*"}).rfind("network.weights_bind:", 0), 0u);
    EXPECT_NE(load_error({"network.prompts_bind=tcp://198.18.0.1:7000"}).find("network.unauthenticated"),
              std::string::npos);
    EXPECT_EQ(load_error({"network.weights_bind=tcp://*:*", "network.unauthenticated=true"}), "");
    EXPECT_EQ(load_error({"network.prompts_bind=tcp://127.0.0.1:99999"}).rfind("network.prompts_bind:", 0),
              0u);
    EXPECT_EQ(load_error({"network.scheduler_bind=udp://x"}).rfind("network.scheduler_bind:", 0), 0u);
    EXPECT_EQ(load_error({"launcher=processes", "network.weights_bind=tcp://127.0.0.1:*"})
                  .rfind("network.weights_bind:", 0),
              0u);
    EXPECT_EQ(load_error({"launcher=processes", "network.weights_bind=tcp://127.0.0.1:7001"}), "");
}

TEST(BindEndpoint, AWildcardBindIsAdvertisedWithTheGivenHost) {
    EXPECT_EQ(advertised_endpoint("tcp://0.0.0.0:5555", "node7"), "tcp://node7:5555");
    EXPECT_EQ(advertised_endpoint("tcp://[::]:5555", "::1"), "tcp://[::1]:5555");
    EXPECT_EQ(advertised_endpoint("tcp://198.18.0.2:5555", "node7"), "tcp://198.18.0.2:5555");
    EXPECT_EQ(advertised_endpoint("ipc:///tmp/x", "node7"), "ipc:///tmp/x");
    EXPECT_TRUE(is_wildcard_bind("tcp://*:1"));
    EXPECT_FALSE(is_wildcard_bind("tcp://127.0.0.1:1"));
}

TEST(ConfigHash, DiffersWithAnyKeyAndIsStable) {
    const std::string yaml = "tokenizer: t.json\ndata: {train: 'gen:arith?n=10&seed=1'}\n";
    const JobConfig a = parse_job_config(yaml, "t.yaml");
    EXPECT_EQ(job_config_hash(a), job_config_hash(parse_job_config(yaml, "t.yaml")));
    EXPECT_EQ(job_config_hash(a).size(), 16u);
    EXPECT_NE(job_config_hash(a), job_config_hash(parse_job_config(yaml, "t.yaml", {"trainer.lr=0.5"})));
    // Each machine's own paths, CPUs and logging are not the job's identity.
    EXPECT_EQ(job_config_hash(a),
              job_config_hash(parse_job_config(
                  yaml, "t.yaml", {"run_dir=/elsewhere", "buffer.dir=/b", "threads=3", "log.level=debug"})));
}

}  // namespace
}  // namespace stride
