// Who may talk to a running job (issue #20): `stride run` (threads, so every channel is loopback TCP)
// with its endpoints on known ports, and this test process as the local attacker of the issue, with
// real ZeroMQ sockets but not the job's keys: it tries to put samples, pull batches, fetch weights and
// take prompts on every endpoint for as long as the job runs. Nothing it sends is answered, the job
// finishes its steps, and its /metrics and log show the refusals.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "common/messaging.h"
#include "common/weight_sync.h"
#include "e2e_test_util.h"

namespace fs = std::filesystem;
using namespace stride;
using namespace stride::test::e2e;

namespace {

// A TCP port nothing listens on right now (the kernel's pick for port 0).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    socklen_t len = sizeof(a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::string tcp(int port) {
    return "tcp://127.0.0.1:" + std::to_string(port);
}

// One request of the attacker, with the right job id (the envelope's only check before issue #20);
// true when anything at all came back.
bool answered(ZmqContext& ctx, const std::string& endpoint, const v1::Envelope& req) {
    RequestClient client(ctx, endpoint, "e2e");
    return client.call_raw(encode_envelope(req), 300).has_value();
}

}  // namespace

TEST(JobAuth, AStrangerWithoutTheKeysIsRefusedOnEveryEndpoint) {
    const std::string dir = make_run_dir("auth");
    const int buffer = free_port(), weights = free_port(), prompts = free_port(), metrics = free_port();
    const std::string cfg =
        write_config(dir, "buffer: {endpoint: '" + tcp(buffer) + "'}\nnetwork: {weights_bind: '" +
                              tcp(weights) + "', prompts_bind: '" + tcp(prompts) +
                              "'}\nmetrics: {port: " + std::to_string(metrics) + "}\n");
    std::atomic<bool> done{false};
    int rc = -1;
    std::string out;
    std::thread job([&] {
        rc = run_stride({"run", cfg, "trainer.steps=6", "trainer.checkpoint_every=0"}, &out);
        done = true;
    });

    ZmqContext plain;  // the attacker's: no keys
    v1::Envelope put = make_envelope("e2e");
    v1::Sample* s = put.mutable_put_samples()->add_samples();
    s->set_group_id("fake");
    s->set_reward(1.0);
    v1::Envelope pull = make_envelope("e2e");
    pull.mutable_pull_batch()->set_num_groups(1);
    v1::Envelope take = make_envelope("e2e");
    take.mutable_prompt_request()->set_worker_id("rollout-0");
    take.mutable_prompt_request()->set_max_prompts(4);
    int tries = 0, answers = 0;
    std::string scraped;
    while (!done) {
        answers += answered(plain, tcp(buffer), put);
        answers += answered(plain, tcp(buffer), pull);
        answers += answered(plain, tcp(prompts), take);
        WeightSubscriber sub("e2e", tcp(weights), 4, true, nullptr);
        answers += sub.latest(300).has_value();
        ++tries;
        if (scraped.find("stride_auth_refused_total") == std::string::npos) {
            httplib::Client c("127.0.0.1", metrics);
            c.set_connection_timeout(1);
            if (auto r = c.Get("/metrics")) scraped = r->body;
        }
    }
    job.join();
    ASSERT_EQ(rc, 0) << out;
    EXPECT_GE(tries, 1);
    EXPECT_EQ(answers, 0) << "of " << tries << " rounds of four requests";
    EXPECT_EQ(read_metrics(dir + "/runs/e2e/metrics.jsonl").size(), 6u) << out;
    EXPECT_NE(scraped.find("stride_auth_refused_total{reason=\"handshake\"}"), std::string::npos) << scraped;
    std::ifstream log(dir + "/runs/e2e/logs/scheduler.log");
    std::stringstream text;
    text << log.rdbuf();
    EXPECT_NE(text.str().find("refused a peer connecting to"), std::string::npos);
    // The run's ephemeral key set: owner-only, and never in config.yaml (only where it lives).
    struct stat st {};
    ASSERT_EQ(::stat((dir + "/runs/e2e/keys/client.key_secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::ifstream keyfile(dir + "/runs/e2e/keys/client.key_secret");
    std::string secret;
    keyfile >> secret;
    std::ifstream conf(dir + "/runs/e2e/config.yaml");
    std::stringstream conf_text;
    conf_text << conf.rdbuf();
    EXPECT_EQ(conf_text.str().find(secret), std::string::npos);
    fs::remove_all(dir);
}
