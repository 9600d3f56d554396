// tests/buffer/test_buffer_recovery.cpp: nothing acknowledged is lost. A buffer stopped (or killed
// with SIGKILL in a child process) and reopened on the same directory serves every acked, uncommitted
// sample; a batch pulled but not committed is served again after a buffer restart, a lease timeout or
// an explicit "trainer restarted" (ReleaseLeases).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
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

namespace {

// Pulls until the buffer has no complete group left; returns the sample ids seen (and commits).
std::set<std::string> drain(BufferClient& client, int64_t version = 0) {
    std::set<std::string> ids;
    for (;;) {
        v1::Batch b = client.pull(16, version, /*allow_partial=*/true);
        if (b.batch_id() == 0) return ids;
        for (const auto& g : b.groups())
            for (const auto& s : g.samples()) ids.insert(s.sample_id());
        client.commit(b.batch_id());
    }
}

}  // namespace

TEST(BufferRecovery, RestartRecoversEveryAckedSample) {
    TempDir dir("buf-restart");
    BufferServerConfig cfg = test_config(dir.sub("db"), 4);
    cfg.sync_wal = true;
    constexpr int kGroups = 50;
    {
        BufferServer server(cfg);
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options(10000));
        for (int g = 0; g < kGroups; ++g) client.put(make_groups(numbered("g", g), 1, 4));
        client.put({make_sample("half", 0), make_sample("half", 1)});  // incomplete survives too
    }                                                                  // server stopped, store closed
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options(10000));
    v1::BufferStats st = client.stats();
    EXPECT_EQ(st.recovered_samples(), uint64_t(kGroups * 4 + 2));
    EXPECT_EQ(st.groups_complete(), uint64_t(kGroups));
    EXPECT_EQ(st.groups_incomplete(), 1u);
    EXPECT_EQ(drain(client).size(), size_t(kGroups * 4));
    // The half group completes after the restart and is served.
    client.put({make_sample("half", 2), make_sample("half", 3)});
    EXPECT_EQ(drain(client).size(), 4u);
}

TEST(BufferRecovery, UncommittedBatchIsReplayedAfterRestart) {
    TempDir dir("buf-replay");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    std::set<std::string> leased_ids;
    uint64_t old_batch = 0;
    {
        BufferServer server(cfg);
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options(10000));
        client.put(make_groups("r", 3, 2));
        v1::Batch b = client.pull(2, 0);  // the trainer "crashes" before committing
        ASSERT_EQ(b.groups_size(), 2);
        old_batch = b.batch_id();
        for (const auto& g : b.groups())
            for (const auto& s : g.samples()) leased_ids.insert(s.sample_id());
    }
    BufferServer server(cfg);  // default: leases found on disk are released
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options(10000));
    EXPECT_EQ(client.stats().leases_released(), 2u);
    EXPECT_THROW(client.commit(old_batch), stride::Error);  // that lease is gone
    v1::Batch b = client.pull(3, 0);
    ASSERT_EQ(b.groups_size(), 3);
    EXPECT_GT(b.batch_id(), old_batch);  // batch ids never repeat across restarts
    // Replayed groups come first (they completed first).
    std::set<std::string> first_two;
    for (int i = 0; i < 2; ++i)
        for (const auto& s : b.groups(i).samples()) first_two.insert(s.sample_id());
    EXPECT_EQ(first_two, leased_ids);
}

TEST(BufferRecovery, LeasesCanSurviveARestart) {
    TempDir dir("buf-keep");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    cfg.keep_leases_on_restart = true;
    uint64_t batch = 0;
    {
        BufferServer server(cfg);
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options(10000));
        client.put(make_groups("k", 2, 2));
        batch = client.pull(1, 0).batch_id();
    }
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options(10000));
    v1::BufferStats st = client.stats();
    EXPECT_EQ(st.groups_leased(), 1u);
    EXPECT_EQ(st.groups_complete(), 1u);
    EXPECT_EQ(client.commit(batch).groups(), 1u);  // the trainer that outlived the buffer commits
    EXPECT_EQ(drain(client).size(), 2u);
}

TEST(BufferRecovery, LeaseTimeoutAndExplicitReleaseReplay) {
    TempDir dir("buf-lease");
    BufferServerConfig cfg = test_config(dir.sub("db"), 1);
    cfg.lease_timeout_ms = 200;
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options(10000));
    client.put(make_groups("t", 2, 1));

    v1::Batch b = client.pull(2, 0);
    ASSERT_EQ(b.groups_size(), 2);
    EXPECT_EQ(client.pull(1, 0).batch_id(), 0u);     // all leased
    v1::Batch again = client.pull_wait(2, 0, 3000);  // served again once the lease expires
    ASSERT_EQ(again.groups_size(), 2);
    EXPECT_NE(again.batch_id(), b.batch_id());
    EXPECT_EQ(client.stats().leases_expired(), 2u);
    EXPECT_THROW(client.commit(b.batch_id()), stride::Error);

    // Explicit: the trainer restarted, releases its leases before pulling.
    v1::ReleaseLeasesAck r = client.release_leases("trainer restarted");
    EXPECT_EQ(r.batches_released(), 1u);
    EXPECT_EQ(r.groups_released(), 2u);
    v1::Batch third = client.pull(2, 0);
    ASSERT_EQ(third.groups_size(), 2);
    EXPECT_EQ(client.commit(third.batch_id()).samples(), 2u);
    EXPECT_EQ(client.stats().stored_samples(), 0u);
}

// ---- kill -9 ------------------------------------------------------------------------------------

// Runs only as the child of KillNineLosesNothing (re-executed with STRIDE_BUFFER_CHILD_DIR set): serves
// a buffer until SIGKILL. Skipped in a normal run.
TEST(BufferRecovery, ChildServeUntilKilled) {
    const char* dir = std::getenv("STRIDE_BUFFER_CHILD_DIR");
    const char* endpoint = std::getenv("STRIDE_BUFFER_CHILD_ENDPOINT");
    if (!dir || !endpoint) GTEST_SKIP() << "helper process of KillNineLosesNothing";
    BufferServerConfig cfg = test_config(dir, 4);
    cfg.endpoint = endpoint;
    BufferServer server(cfg);
    server.run();  // never returns: the parent kills us
}

TEST(BufferRecovery, KillNineLosesNothing) {
    TempDir dir("buf-kill9");
    std::string db = dir.sub("db");
    std::string endpoint = "ipc://" + dir.sub("buffer.ipc");
    // A fresh process (fork + exec of this test binary): forking a process that already runs RocksDB
    // and ZeroMQ threads would give the child locks held by threads that do not exist there.
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test runner that died
        setenv("STRIDE_BUFFER_CHILD_DIR", db.c_str(), 1);
        setenv("STRIDE_BUFFER_CHILD_ENDPOINT", endpoint.c_str(), 1);
        execl("/proc/self/exe", "buffer_child", "--gtest_filter=BufferRecovery.ChildServeUntilKilled",
              static_cast<char*>(nullptr));
        _exit(127);
    }
    // Kills the child if an assertion below returns early.
    struct ChildGuard {
        pid_t pid;
        ~ChildGuard() {
            if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, nullptr, 0);
            }
        }
    } guard{pid};
    std::set<std::string> acked;
    {
        ZmqContext ctx;
        BufferClient client(ctx, endpoint, "test-job", fast_options(10000));  // retries until the child binds
        for (int i = 0; i < 40; ++i) {
            v1::PutAck ack = client.put(make_groups(numbered("k", i), 1, 4));
            for (const auto& id : ack.durable_sample_ids()) acked.insert(id);
        }
        v1::Batch b = client.pull(5, 0);  // leased, never committed
        ASSERT_EQ(b.groups_size(), 5);
        client.put({make_sample("tail", 0)});  // an incomplete group, acked just before the kill
        acked.insert("tail-0");
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    guard.pid = -1;
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGKILL);

    BufferServerConfig cfg = test_config(db, 4);
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options(10000));
    EXPECT_EQ(client.stats().recovered_samples(), acked.size());
    client.put({make_sample("tail", 1), make_sample("tail", 2), make_sample("tail", 3)});
    std::set<std::string> served = drain(client);
    for (const auto& id : acked) EXPECT_TRUE(served.count(id)) << id << " was acked but not served";
    EXPECT_EQ(served.size(), acked.size() + 3);
}

// ---- kill -9 between a lease and its reply ---------------------------------------------------------

// Runs only as the child of ARetriedPullAfterAKillBetweenLeaseAndReplyGetsTheSameBatch: serves a buffer
// that keeps its leases over a restart (as a job with recovery.buffer_restarts does) and kills itself
// with SIGKILL right after the first lease is written, before its reply leaves.
TEST(BufferRecovery, ChildDieAfterLease) {
    const char* dir = std::getenv("STRIDE_BUFFER_CHILD_DIR");
    const char* endpoint = std::getenv("STRIDE_BUFFER_CHILD_ENDPOINT");
    if (!dir || !endpoint || !std::getenv("STRIDE_BUFFER_CHILD_DIE_AFTER_LEASE"))
        GTEST_SKIP() << "helper process of ARetriedPullAfterAKillBetweenLeaseAndReplyGetsTheSameBatch";
    BufferServerConfig cfg = test_config(dir, 2);
    cfg.endpoint = endpoint;
    cfg.keep_leases_on_restart = true;
    cfg.after_lease_written = [](uint64_t) { raise(SIGKILL); };
    BufferServer server(cfg);
    server.run();
}

TEST(BufferRecovery, ARetriedPullAfterAKillBetweenLeaseAndReplyGetsTheSameBatch) {
    TempDir dir("buf-lease-kill");
    const std::string db = dir.sub("db");
    const std::string endpoint = "ipc://" + dir.sub("buffer.ipc");
    {  // the groups, stored by a buffer that ends normally
        BufferServerConfig cfg = test_config(db, 2);
        cfg.endpoint = endpoint;
        BufferServer server(cfg);
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, endpoint, cfg.job_id, fast_options(10000));
        client.put(make_groups("q", 4, 2));
    }
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setenv("STRIDE_BUFFER_CHILD_DIR", db.c_str(), 1);
        setenv("STRIDE_BUFFER_CHILD_ENDPOINT", endpoint.c_str(), 1);
        setenv("STRIDE_BUFFER_CHILD_DIE_AFTER_LEASE", "1", 1);
        execl("/proc/self/exe", "buffer_child", "--gtest_filter=BufferRecovery.ChildDieAfterLease",
              static_cast<char*>(nullptr));
        _exit(127);
    }
    // The trainer's pull: its first attempt leases 2 groups and gets no reply (the buffer died); it
    // retries, with the same request id, until the restarted buffer answers.
    ZmqContext ctx;
    BufferClientOptions opt = fast_options(30000);
    opt.call_timeout_ms = 300;
    opt.trainer_id = "trainer-0";
    BufferClient client(ctx, endpoint, "test-job", opt);
    auto pulled = std::async(std::launch::async, [&] { return client.pull(2, 0); });
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the buffer was to die between lease and reply";
    EXPECT_EQ(WTERMSIG(status), SIGKILL);

    BufferServerConfig cfg = test_config(db, 2);
    cfg.endpoint = endpoint;
    cfg.keep_leases_on_restart = true;
    BufferServer server(cfg);
    server.start();
    v1::Batch b = pulled.get();
    ASSERT_EQ(b.groups_size(), 2) << "the retried pull got nothing";
    ZmqContext ctx2;
    BufferClient admin(ctx2, endpoint, "test-job", fast_options(10000));
    v1::BufferStats st = admin.stats();
    EXPECT_EQ(st.leases_open(), 1u) << "the retried pull leased a second batch; the first holds its groups";
    EXPECT_EQ(st.groups_leased(), 2u);
    EXPECT_EQ(st.groups_complete(), 2u);
    EXPECT_EQ(client.commit(b.batch_id()).groups(), 2u);
    EXPECT_EQ(drain(admin).size(), 4u);  // the samples of the other two groups: nothing held back
}
