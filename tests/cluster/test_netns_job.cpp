// Several hosts on one machine, for real (issue #18): tests/cluster/netns_job.sh puts the scheduler,
// the buffer, the trainer and two rollout workers each in a network namespace of its own (veth pairs
// to a bridge, addresses in 198.18.0.0/24) and a PID namespace with its own /proc, with a run
// directory of its own, and runs a 4-step job to completion: nothing can rely on loopback, ipc://, a
// shared run directory or another role's /proc (weights travel in chunks over TCP). Skipped only where
// network namespaces cannot be made (no CAP_NET_ADMIN). About 7 s.
//
// The partition: the same job, with a rollout worker's link down for 12 s mid-run (its packets dropped,
// no connection reset) and up again. The registry loses it (network.lost_after_s: 6, which the other roles
// keep under load) and hands its prompts to the other worker; it stops itself on the scheduler's silence and
// its supervisor (recovery.rollout_restarts) starts it again, registering once the link is back (the job is
// long enough to outlast the partition, and the registry says the worker is back). The job ends with every
// step once, every prompt trained once and none from a discarded version (trained.jsonl), and every sample
// the buffer acknowledged (acked.log) in a trained group. About 30 s.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "../../bench/chaos/progress_audit.h"

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

TEST(NetnsJob, ARolloutWorkerCutOffMidRunLosesNoAcknowledgedSampleAndTrainsNoneTwice) {
    // Long enough to outlast the partition (12 s plus the worker's registration back-off) on an idle
    // machine too, where a step of this tiny job takes about 0.13 s.
    constexpr int kSteps = 300, kPromptsPerStep = 4;
    const std::string dir = cluster_scratch("partition");
    const std::string cfg =
        write_tiny_job(dir,
                       "network: {unauthenticated: true, connect_timeout_s: 60, lost_after_s: 6}\n"
                       "recovery: {rollout_restarts: 3, restart_backoff_s: 0.2}\n");
    int status = 0;
    const std::string out = run_capture("STRIDE_NETNS_OVERRIDES=trainer.steps=" + std::to_string(kSteps) +
                                            " STRIDE_NETNS_PARTITION=rollout0:2:12 bash " STRIDE_SOURCE_DIR
                                            "/tests/cluster/netns_job.sh " STRIDE_BIN " " +
                                            cfg + " " + dir + "/w 2>&1",
                                        status);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77) GTEST_SKIP() << out;
    const std::string sched = slurp(dir + "/w/scheduler.log"), r0 = slurp(dir + "/w/rollout0.log");
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << out << "\n--- trainer.log\n"
        << slurp(dir + "/w/trainer.log") << "\n--- scheduler.log\n"
        << sched << "\n--- rollout0.log\n"
        << r0;
    // The partition happened mid-run and was seen: the registry lost the worker, which lost the scheduler.
    EXPECT_NE(out.find("partition: rollout0 cut off after step"), std::string::npos) << out;
    EXPECT_NE(out.find("partition: rollout0 reconnected after 12 s"), std::string::npos) << out;
    EXPECT_NE(sched.find("rollout-0 (instance"), std::string::npos) << sched;
    EXPECT_NE(sched.find("(network.lost_after_s): lost"), std::string::npos) << sched;
    EXPECT_NE(r0.find("no answer from the scheduler"), std::string::npos) << r0;
    EXPECT_NE(sched.find(") is back"), std::string::npos) << sched;  // rejoined before the job ended
    // Every step once; every prompt trained once, none from a discarded version.
    std::vector<int64_t> want;
    for (int s = 1; s <= kSteps; ++s) want.push_back(s);
    EXPECT_EQ(metrics_steps(dir + "/w/trainer/cl/metrics.jsonl"), want);
    const chaos::ProgressAudit audit = chaos::audit_trained_log(dir + "/w/trainer/cl/trained.jsonl");
    const std::string first = audit.problems.empty() ? "" : audit.problems[0];
    EXPECT_EQ(audit.steps_out_of_order, 0) << first;
    EXPECT_EQ(audit.trained_twice, 0) << first;
    EXPECT_EQ(audit.from_discarded, 0) << first;
    std::set<std::string> every_prompt;
    for (int p = 0; p < kSteps * kPromptsPerStep; ++p) every_prompt.insert("p" + std::to_string(p));
    EXPECT_EQ(audit.group_ids, every_prompt);
    // No acknowledged sample lost: the group of every sample the buffer acknowledged was trained.
    std::ifstream acked(dir + "/w/buffer/cl/acked.log");
    std::string group, sample;
    int64_t acked_samples = 0;
    while (acked >> group >> sample) {
        ++acked_samples;
        EXPECT_TRUE(audit.group_ids.count(group)) << "acknowledged group " << group << " was never trained";
    }
    EXPECT_GE(acked_samples, kSteps * kPromptsPerStep * 4);  // rollout.n = 4
    if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
}  // namespace stride::test
