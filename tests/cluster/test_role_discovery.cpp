// `stride role NAME --scheduler tcp://HOST:PORT` as a user runs it (issue #18), over loopback: a role
// whose config differs from the scheduler's is refused with both hashes named, a role that cannot
// reach the scheduler says where it is trying and gives up after network.connect_timeout_s; a role
// that differs only in a per-machine key (run_dir) registers. About 8 s.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "tests/cli_test_util.h"
#include "tests/cluster/cluster_test_util.h"

namespace stride::test {
namespace {

// `stride role scheduler` in the background until destroyed (SIGTERM to this pid only).
class Scheduler {
   public:
    Scheduler(const std::string& cfg, const std::string& address, const std::string& log) {
        pid_ = fork();
        if (pid_ == 0) {
            if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(125);
            execl(STRIDE_BIN, STRIDE_BIN, "role", "scheduler", "--config", cfg.c_str(), "--scheduler",
                  address.c_str(), (char*)nullptr);
            _exit(127);
        }
        for (int i = 0; i < 100 && slurp(log).find("registry at") == std::string::npos; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ~Scheduler() {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
    }

   private:
    pid_t pid_;
};

TEST(RoleDiscovery, ARoleWithAnotherConfigIsRefusedNamingBothHashes) {
    const std::string dir = cluster_scratch("discovery");
    const std::string cfg = write_tiny_job(dir, "run_dir: " + dir + "/runs\n");
    const std::string addr = "tcp://127.0.0.1:" + std::to_string(free_port(23000));
    Scheduler sched(cfg, addr, dir + "/scheduler.log");
    std::smatch m;
    const std::string log = slurp(dir + "/scheduler.log");
    ASSERT_TRUE(std::regex_search(log, m, std::regex("config hash ([0-9a-f]{16})"))) << log;
    const std::string ours = m[1];
    int status = 0;
    const std::string out = run_capture(std::string(STRIDE_BIN) + " role rollout --worker 1 --config " + cfg +
                                            " --scheduler " + addr + " trainer.lr=0.5 2>&1",
                                        status);
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(out.find(ours), std::string::npos) << out;
    ASSERT_TRUE(std::regex_search(out, m, std::regex("runs config hash ([0-9a-f]{16})"))) << out;
    EXPECT_NE(m[1], ours);
    EXPECT_NE(out.find("rollout-1"), std::string::npos) << out;
    // A per-machine key (run_dir) is not part of the hash: the same job from another directory registers.
    run_capture("timeout 3 " + std::string(STRIDE_BIN) + " role buffer --config " + cfg + " --scheduler " +
                addr + " run_dir=" + dir + "/elsewhere 2>&1");
    EXPECT_NE(slurp(dir + "/scheduler.log").find("registry: buffer serves buffer at tcp://127.0.0.1:"),
              std::string::npos)
        << slurp(dir + "/scheduler.log");
}

TEST(RoleDiscovery, AnUnreachableSchedulerIsRetriedNamingItThenGivenUp) {
    const std::string dir = cluster_scratch("unreachable");
    const std::string cfg =
        write_tiny_job(dir, "run_dir: " + dir + "/runs\nnetwork: {connect_timeout_s: 2}\n");
    const std::string addr = "tcp://127.0.0.1:" + std::to_string(free_port(23000));
    int status = 0;
    const auto t0 = std::chrono::steady_clock::now();
    const std::string out = run_capture(
        std::string(STRIDE_BIN) + " role trainer --config " + cfg + " --scheduler " + addr + " 2>&1", status);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(WEXITSTATUS(status), 1) << out;
    EXPECT_NE(
        out.find("registering with the scheduler at " + addr + ": no answer (attempt 1), retrying in 0.2 s"),
        std::string::npos)
        << out;
    EXPECT_NE(out.find("network.connect_timeout_s = 2"), std::string::npos) << out;
    EXPECT_LT(s, 10);
}

}  // namespace
}  // namespace stride::test
