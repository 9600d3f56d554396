// CURVE on role sockets (issue #20), over real TCP sockets: the key files, who the ZAP handler
// admits, what it counts, and the config rules that depend on keys.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/base/error.h"
#include "common/curve_keys.h"
#include "common/messaging.h"
#include "common/metrics.h"
#include "common/network_auth.h"
#include "common/weight_sync.h"
#include "scheduler/job_config.h"

namespace stride {
namespace {

namespace fs = std::filesystem;

std::string scratch(const std::string& name) {
    const fs::path p = fs::temp_directory_path() / ("stride-curve-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(p);
    return p.string();
}

mode_t mode_of(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

// Waits up to 3 s for the server context to count `n` refusals (the handshake runs on zmq's threads).
bool refused_within(const ZmqContext& ctx, uint64_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (ctx.auth_refused() < n && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return ctx.auth_refused() >= n;
}

double refusals_metric(const std::string& reason) {
    return MetricsRegistry::global()
        .counter("stride_auth_refused", "peers refused before any message was read (issue #20)", {"reason"})
        .with({reason})
        .value();
}

// A server that answers every request with "pong" until stopped, on its own thread.
struct PongServer {
    ZmqContext ctx;
    ReplySocket sock;
    std::atomic<bool> stop{false};
    std::atomic<int> served{0};
    std::thread thread;
    explicit PongServer(std::shared_ptr<const CurveKeys> keys)
        : ctx(std::move(keys)), sock(ctx, "tcp://127.0.0.1:*") {
        thread = std::thread([this] {
            while (!stop)
                if (auto r = sock.recv(20)) {
                    ++served;
                    sock.reply(*r, "pong");
                }
        });
    }
    ~PongServer() {
        stop = true;
        thread.join();
    }
};

TEST(CurveKeys, FilesAreOwnerOnlyAndReadBack) {
    ASSERT_TRUE(curve_supported());
    const std::string dir = scratch("files");
    const mode_t old = ::umask(0);  // the modes must not depend on the umask
    const CurveKeys keys = generate_curve_keys();
    write_curve_keys(dir, keys);
    ::umask(old);
    EXPECT_EQ(mode_of(dir), 0700u);
    for (const char* f : {"server.key", "server.key_secret", "client.key", "client.key_secret", "clients"})
        EXPECT_EQ(mode_of(dir + "/" + f), 0600u) << f;
    const CurveKeys back = read_curve_keys(dir);
    EXPECT_EQ(back.server_public, keys.server_public);
    EXPECT_EQ(back.server_secret, keys.server_secret);
    EXPECT_EQ(back.client_secret, keys.client_secret);
    EXPECT_EQ(back.allowed_clients, std::vector<std::string>{keys.client_public});
    EXPECT_NE(keys.server_secret, keys.client_secret);

    // A secret others may read is refused, naming the file; so is a file that is not a key.
    ::chmod((dir + "/client.key_secret").c_str(), 0644);
    EXPECT_NE(error_of([&] {
                  read_curve_keys(dir);
              }).find("client.key_secret: a CURVE key file must be readable by its owner only"),
              std::string::npos);
    ::chmod((dir + "/client.key_secret").c_str(), 0600);
    std::ofstream(dir + "/server.key") << "not a key\n";
    EXPECT_NE(error_of([&] { read_curve_keys(dir); }).find("server.key: not a CURVE key"), std::string::npos);
    fs::remove(dir + "/clients");
    write_curve_keys(dir, keys);
    std::ofstream(dir + "/clients") << "# nobody\n";
    EXPECT_NE(error_of([&] { read_curve_keys(dir); }).find("lists no client key"), std::string::npos);
    fs::remove_all(dir);
}

TEST(CurveAuth, OnlyTheJobsKeysAreServedAndStrangersAreCounted) {
    auto keys = std::make_shared<const CurveKeys>(generate_curve_keys());
    PongServer server(keys);
    const std::string ep = server.sock.endpoint();
    const double key_before = refusals_metric("key"), handshake_before = refusals_metric("handshake");

    // The job's keys: served.
    {
        ZmqContext ctx(keys);
        RequestClient client(ctx, ep, "job");
        auto reply = client.call_raw("ping", 5000);
        ASSERT_TRUE(reply.has_value());
        EXPECT_EQ(*reply, "pong");
    }
    EXPECT_EQ(server.ctx.auth_refused(), 0u);

    // No keys at all (what the attacker of issue #20 had): the handshake fails, nothing is read.
    {
        ZmqContext plain;
        RequestClient client(plain, ep, "job");
        EXPECT_FALSE(client.call_raw("ping", 700).has_value());
    }
    EXPECT_TRUE(refused_within(server.ctx, 1));

    // The right server key but a client pair of another key set: ZAP says no.
    CurveKeys stranger = generate_curve_keys();
    stranger.server_public = keys->server_public;
    stranger.server_secret = keys->server_secret;  // unused by a client; only its client pair differs
    const uint64_t before = server.ctx.auth_refused();
    {
        ZmqContext ctx(std::make_shared<const CurveKeys>(stranger));
        RequestClient client(ctx, ep, "job");
        EXPECT_FALSE(client.call_raw("ping", 700).has_value());
    }
    EXPECT_TRUE(refused_within(server.ctx, before + 1));

    // Another job's keys altogether (another server key): the handshake fails.
    const uint64_t before2 = server.ctx.auth_refused();
    {
        ZmqContext ctx(std::make_shared<const CurveKeys>(generate_curve_keys()));
        RequestClient client(ctx, ep, "job");
        EXPECT_FALSE(client.call_raw("ping", 700).has_value());
    }
    EXPECT_TRUE(refused_within(server.ctx, before2 + 1));

    EXPECT_EQ(server.served, 1);  // only the job's own request reached the server
    EXPECT_GE(refusals_metric("key") - key_before, 1.0);
    EXPECT_GE(refusals_metric("handshake") - handshake_before, 1.0);

    // The job's key still works after the strangers.
    ZmqContext ctx(keys);
    RequestClient client(ctx, ep, "job");
    EXPECT_EQ(client.call_raw("ping", 5000).value_or(""), "pong");
}

TEST(CurveAuth, WeightsAreNotServedToAStranger) {
    auto keys = std::make_shared<const CurveKeys>(generate_curve_keys());
    WeightPublisher pub("job-w", "tcp://127.0.0.1:*", 4096, /*share_memory=*/true, keys);
    WeightBlob blob;
    blob.version = 1;
    blob.bytes.assign(10000, 'x');
    pub.publish(std::move(blob));
    WeightSubscriber stranger("job-w", pub.endpoint(), 4, true, nullptr);
    EXPECT_FALSE(stranger.latest(700).has_value());
    WeightSubscriber member("job-w", pub.endpoint(), 4, true, keys);
    auto got = member.fetch_if_newer(-1, 5000);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->bytes.size(), 10000u);
    EXPECT_EQ(pub.rejected(), 0u);  // the stranger never got as far as a message
}

TEST(CurveAuth, ContextsWithoutKeysStayPlain) {
    ZmqContext server_ctx;
    ReplySocket server(server_ctx, "tcp://127.0.0.1:*");
    ZmqContext client_ctx;
    RequestClient client(client_ctx, server.endpoint(), "job");
    std::thread t([&] {
        if (auto r = server.recv(5000)) server.reply(*r, "pong");
    });
    EXPECT_EQ(client.call_raw("ping", 5000).value_or(""), "pong");
    t.join();
    EXPECT_EQ(server_ctx.auth_refused(), 0u);
}

JobConfig load(const std::vector<std::string>& overrides) {
    return parse_job_config("tokenizer: tok.json\ndata:\n  train: gen:arith?n=10&seed=1\n", "t.yaml",
                            overrides);
}

TEST(CurveConfig, KeysAllowBindsBeyondLoopback) {
    // Without keys: refused at load, naming the key and the two ways out.
    const std::string err = error_of([] { load({"buffer.endpoint=tcp://0.0.0.0:5555"}); });
    EXPECT_NE(err.find("buffer.endpoint"), std::string::npos) << err;
    EXPECT_NE(err.find("network.keys_dir"), std::string::npos) << err;
    EXPECT_NE(err.find("network.unauthenticated"), std::string::npos) << err;
    // auth: curve (the launcher makes keys; a role on its own needs keys_dir) or a keys_dir: allowed.
    EXPECT_EQ(error_of([] { load({"buffer.endpoint=tcp://0.0.0.0:5555", "network.auth=curve"}); }), "");
    EXPECT_EQ(error_of([] { load({"network.weights_bind=tcp://*:7000", "network.keys_dir=/k"}); }), "");
    // auth: none makes keys meaningless, and a keys_dir with it is a mistake.
    EXPECT_NE(error_of([] {
                  load({"network.auth=none", "network.keys_dir=/k"});
              }).find("network.keys_dir"),
              std::string::npos);
    EXPECT_NE(error_of([] {
                  load({"network.auth=none", "buffer.endpoint=tcp://0.0.0.0:5555"});
              }).find("buffer.endpoint"),
              std::string::npos);
    EXPECT_NE(error_of([] { load({"network.auth=maybe"}); }).find("network.auth"), std::string::npos);
}

TEST(CurveConfig, LaunchersMakeAFreshKeySetPerStart) {
    const std::string root = scratch("launcher");
    JobConfig cfg = load({"run_dir=" + root, "name=j"});
    EXPECT_EQ(job_curve_keys(cfg), nullptr);  // auto without keys: plain (a test's own roles)
    make_launcher_keys(cfg);
    EXPECT_EQ(cfg.network.keys_dir, root + "/j/keys");
    auto first = job_curve_keys(cfg);
    ASSERT_NE(first, nullptr);
    JobConfig again = load({"run_dir=" + root, "name=j"});
    make_launcher_keys(again);
    EXPECT_NE(job_curve_keys(again)->server_secret, first->server_secret);  // never reused

    JobConfig none = load({"run_dir=" + root, "name=k", "network.auth=none"});
    make_launcher_keys(none);
    EXPECT_EQ(none.network.keys_dir, "");
    EXPECT_EQ(job_curve_keys(none), nullptr);

    // A role on its own with auth: curve and no keys is told where keys come from.
    EXPECT_NE(error_of([&] { job_curve_keys(load({"network.auth=curve"})); }).find("stride keys gen"),
              std::string::npos);
    fs::remove_all(root);
}

}  // namespace
}  // namespace stride
