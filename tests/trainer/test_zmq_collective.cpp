// The trainer ranks' CPU collective (trainer/zmq_collective.h) between real processes: each test
// forks the other ranks (they use only ZeroMQ, made after the fork) and reads their results from a
// pipe. Sums are in rank order, so bitwise the same on every rank whatever the timing; a rank killed
// with -9 makes rank 0 fail at once naming it (peer_check) and, without a peer check, within the
// deadline; a rank waiting for a dead rank 0 fails too.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "trainer/zmq_collective.h"

using namespace stride;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

std::string fresh_endpoint(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("stride_coll_" + std::to_string(getpid()));
    fs::create_directories(dir);
    return "ipc://" + (dir / name).string();
}

ZmqCollectiveOptions options(int rank, int size, const std::string& endpoint, double timeout_s = 20) {
    ZmqCollectiveOptions o;
    o.rank = rank;
    o.size = size;
    o.endpoint = endpoint;
    o.group = "test-group";
    o.timeout_s = timeout_s;
    return o;
}

// Rank r's contribution: values whose float sum depends on the order of addition.
std::vector<float> contribution(int r, size_t n) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i)
        v[i] = (r % 2 ? 1e-7f : 1.0f) * static_cast<float>((i * 31 + r * 17) % 101) + r;
    return v;
}

// Forks rank `rank`, which runs `body` and writes what it returns into a pipe; returns {pid, fd}.
std::pair<pid_t, int> fork_rank(const std::function<std::string()>& body) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        std::string out;
        try {
            out = body();
        } catch (const std::exception& e) {
            out = std::string("error: ") + e.what();
        }
        const ssize_t w = write(fds[1], out.data(), out.size());
        (void)w;
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    return {pid, fds[0]};
}

std::string read_all(int fd) {
    std::string s;
    char buf[65536];
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) s.append(buf, static_cast<size_t>(n));
    close(fd);
    return s;
}

}  // namespace

TEST(ZmqCollective, AllReduceSumsInRankOrderBitwiseTheSameOnEveryRank) {
    const std::string ep = fresh_endpoint("sum");
    const int size = 3;
    const size_t n = 1000;
    std::vector<std::pair<pid_t, int>> kids;
    for (int r = 1; r < size; ++r)
        kids.push_back(fork_rank([&, r] {
            ZmqContext ctx;
            ZmqCollective c(ctx, options(r, size, ep));
            std::vector<float> v = contribution(r, n);
            c.all_reduce(v.data(), n, ReduceOp::sum, "test sum");
            std::vector<double> d = {static_cast<double>(r), 0.5};
            c.all_reduce(d.data(), d.size(), ReduceOp::avg, "test avg");
            v.push_back(static_cast<float>(d[0]));
            v.push_back(static_cast<float>(d[1]));
            return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
        }));
    ZmqContext ctx;
    ZmqCollective c(ctx, options(0, size, ep));
    std::vector<float> mine = contribution(0, n);
    c.all_reduce(mine.data(), n, ReduceOp::sum, "test sum");
    std::vector<double> d = {0.0, 0.5};
    c.all_reduce(d.data(), d.size(), ReduceOp::avg, "test avg");
    EXPECT_DOUBLE_EQ(d[0], 1.0);  // (0 + 1 + 2) / 3
    EXPECT_DOUBLE_EQ(d[1], 0.5);
    // The expected sum, added in rank order in float.
    std::vector<float> expect = contribution(0, n);
    for (int r = 1; r < size; ++r) {
        const std::vector<float> x = contribution(r, n);
        for (size_t i = 0; i < n; ++i) expect[i] += x[i];
    }
    EXPECT_EQ(0, std::memcmp(mine.data(), expect.data(), n * sizeof(float)));
    for (auto [pid, fd] : kids) {
        const std::string got = read_all(fd);
        waitpid(pid, nullptr, 0);
        ASSERT_EQ(got.size(), (n + 2) * sizeof(float)) << got;
        EXPECT_EQ(0, std::memcmp(got.data(), expect.data(), n * sizeof(float)));
        const float* tail = reinterpret_cast<const float*>(got.data()) + n;
        EXPECT_EQ(tail[0], 1.0f);
        EXPECT_EQ(tail[1], 0.5f);
    }
}

TEST(ZmqCollective, BroadcastFromAnyRankAndBarrier) {
    const std::string ep = fresh_endpoint("bcast");
    const int size = 3;
    std::vector<std::pair<pid_t, int>> kids;
    for (int r = 1; r < size; ++r)
        kids.push_back(fork_rank([&, r] {
            ZmqContext ctx;
            ZmqCollective c(ctx, options(r, size, ep));
            std::vector<float> v(4, static_cast<float>(r));
            c.broadcast(v.data(), v.size(), 2, "from rank 2");
            std::string bytes = "ignored";
            c.broadcast_bytes(bytes, 0, "bytes from rank 0");
            c.barrier("end");
            return std::to_string(v[0]) + "|" + bytes;
        }));
    ZmqContext ctx;
    ZmqCollective c(ctx, options(0, size, ep));
    std::vector<float> v(4, 0.0f);
    c.broadcast(v.data(), v.size(), 2, "from rank 2");
    EXPECT_EQ(v, std::vector<float>(4, 2.0f));
    std::string bytes = "the batch";
    c.broadcast_bytes(bytes, 0, "bytes from rank 0");
    c.barrier("end");
    for (auto [pid, fd] : kids) {
        EXPECT_EQ(read_all(fd), std::to_string(2.0f) + "|the batch");
        waitpid(pid, nullptr, 0);
    }
}

TEST(ZmqCollective, ARankKilledWithSigkillIsNamedAtOnceByThePeerCheck) {
    const std::string ep = fresh_endpoint("kill");
    auto [pid, fd] = fork_rank([&] {
        ZmqContext ctx;
        ZmqCollective c(ctx, options(1, 2, ep));
        pause();  // never reaches the all-reduce
        return std::string();
    });
    ZmqContext ctx;
    ZmqCollectiveOptions o = options(0, 2, ep, /*timeout_s=*/120);
    bool reaped = false;
    o.peer_check = [&, pid = pid]() -> std::string {
        int status = 0;
        if (!reaped && waitpid(pid, &status, WNOHANG) == pid) {
            reaped = true;
            return "trainer rank 1 (pid " + std::to_string(pid) + ") died: signal " +
                   std::to_string(WTERMSIG(status));
        }
        return {};
    };
    ZmqCollective c(ctx, o);
    kill(pid, SIGKILL);
    std::vector<float> g(16, 1.0f);
    const auto t0 = Clock::now();
    try {
        c.all_reduce(g.data(), g.size(), ReduceOp::sum, "gradients");
        FAIL() << "the all-reduce returned with rank 1 dead";
    } catch (const CollectiveError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("rank(s) 1"), std::string::npos) << what;
        EXPECT_NE(what.find("died: signal 9"), std::string::npos) << what;
        EXPECT_NE(what.find("gradients"), std::string::npos) << what;
    }
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 10.0);
    close(fd);
}

TEST(ZmqCollective, WithoutAPeerCheckADeadRankFailsTheOthersWithinTheDeadline) {
    const std::string ep = fresh_endpoint("deadline");
    auto [pid, fd] = fork_rank([&] {
        ZmqContext ctx;
        ZmqCollective c(ctx, options(1, 2, ep));
        pause();
        return std::string();
    });
    ZmqContext ctx;
    ZmqCollective c(ctx, options(0, 2, ep, /*timeout_s=*/1.5));
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(fd);
    std::vector<float> g(4, 1.0f);
    const auto t0 = Clock::now();
    EXPECT_THROW(
        {
            try {
                c.all_reduce(g.data(), g.size(), ReduceOp::sum, "gradients");
            } catch (const CollectiveError& e) {
                EXPECT_NE(std::string(e.what()).find("rank(s) 1"), std::string::npos) << e.what();
                throw;
            }
        },
        CollectiveError);
    const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_GE(waited, 1.4);
    EXPECT_LT(waited, 10.0);
}

TEST(ZmqCollective, ARankWaitingForADeadRankZeroFailsNamingIt) {
    const std::string ep = fresh_endpoint("root");
    // Rank 0 is the child here: it joins, then dies with -9; this process is rank 1.
    auto [pid, fd] = fork_rank([&] {
        ZmqContext ctx;
        ZmqCollective c(ctx, options(0, 2, ep));
        pause();
        return std::string();
    });
    ZmqContext ctx;
    ZmqCollectiveOptions o = options(1, 2, ep, /*timeout_s=*/1.5);
    ZmqCollective c(ctx, o);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close(fd);
    std::string bytes;
    try {
        c.broadcast_bytes(bytes, 0, "next step");
        FAIL() << "rank 1 got a step from a dead rank 0";
    } catch (const CollectiveError& e) {
        EXPECT_NE(std::string(e.what()).find("waiting for rank 0"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("next step"), std::string::npos) << e.what();
    }
}

TEST(ZmqCollective, AStopFlagEndsAWaitAndOneRankNeedsNoPeer) {
    std::atomic<bool> stop{false};
    ZmqContext ctx;
    ZmqCollectiveOptions solo = options(0, 1, fresh_endpoint("solo"));
    ZmqCollective one(ctx, solo);
    std::vector<float> v = {1.5f, 2.5f};
    one.all_reduce(v.data(), v.size(), ReduceOp::avg, "alone");
    EXPECT_EQ(v, (std::vector<float>{1.5f, 2.5f}));
    ZmqCollectiveOptions o = options(0, 2, fresh_endpoint("stop"), 60);
    o.stop = &stop;
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        stop = true;
    });
    const auto t0 = Clock::now();
    EXPECT_THROW(ZmqCollective(ctx, o), CollectiveError);  // nobody joins; stopped, not 60 s
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 10.0);
    stopper.join();
}
