// Several hosts on one machine, for real (issue #18): tests/cluster/netns_job.sh puts the scheduler,
// the buffer, the trainer and two rollout workers each in a network namespace of its own (veth pairs
// to a bridge, addresses in 198.18.0.0/24) and a PID namespace with its own /proc, with a run
// directory of its own, and runs a 4-step job to completion: nothing can rely on loopback, ipc://, a
// shared run directory or another role's /proc (weights travel in chunks over TCP). Skipped only where network namespaces cannot be made (no CAP_NET_ADMIN). About 7 s.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/cli_test_util.h"
#include "tests/cluster/cluster_test_util.h"

namespace stride::test {
namespace {

namespace fs = std::filesystem;

TEST(NetnsJob, EachRoleInItsOwnNamespaceRunsTheJobToCompletion) {
    const std::string dir = cluster_scratch("netns");
    const std::string cfg = write_tiny_job(dir, "network: {unauthenticated: true, connect_timeout_s: 60}\n");
    int status = 0;
    const std::string out = run_capture(
        "bash " STRIDE_SOURCE_DIR "/tests/cluster/netns_job.sh " STRIDE_BIN " " + cfg + " " + dir + "/w 2>&1",
        status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) GTEST_SKIP() << out;
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << out << "\n--- trainer.log\n"
        << slurp(dir + "/w/trainer.log") << "\n--- scheduler.log\n"
        << slurp(dir + "/w/scheduler.log");
    for (const char* role : {"scheduler", "buffer", "trainer", "rollout0", "rollout1"})
        EXPECT_NE(out.find(std::string("role ") + role), std::string::npos) << out;
    // The trainer's own run directory holds every step once; the buffer's holds the buffer.
    EXPECT_EQ(metrics_steps(dir + "/w/trainer/cl/metrics.jsonl"), (std::vector<int64_t>{1, 2, 3, 4}));
    EXPECT_TRUE(fs::exists(dir + "/w/buffer/cl/buffer"));
    EXPECT_FALSE(fs::exists(dir + "/w/trainer/cl/buffer"));
    EXPECT_TRUE(fs::exists(dir + "/w/trainer/cl/checkpoints/step_000004"));
    // Endpoints were announced with each role's own address.
    const std::string sched = slurp(dir + "/w/scheduler.log");
    EXPECT_NE(sched.find("serves buffer at tcp://198.18.0.2:"), std::string::npos) << sched;
    EXPECT_NE(sched.find("serves weights at tcp://198.18.0.3:"), std::string::npos) << sched;
    // Every namespace the script made is gone.
    const std::string left = run_capture("ip netns list");
    std::ifstream names(dir + "/w/namespaces");
    std::string ns;
    while (std::getline(names, ns)) EXPECT_EQ(left.find(ns), std::string::npos) << ns << " left behind";
    if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace stride::test
