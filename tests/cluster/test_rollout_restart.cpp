// Recovery inside the job (issue #18), with real processes over loopback: the scheduler, the buffer, the
// trainer and two rollout workers started with --scheduler and recovery.rollout_restarts=2. Mid-job
// rollout worker 0 is stopped from outside (SIGTERM to the worker process, not to its supervisor, as a
// node agent or the OOM killer would): its supervisor starts it again, the new worker registers as the
// same instance, fetches the trainer's weights and resumes what it had in flight, and the job ends on
// its own with every step exactly once. About 15 s.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <numeric>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/cli_test_util.h"
#include "tests/cluster/cluster_test_util.h"

namespace stride::test {
namespace {

TEST(SupervisedRollout, AStoppedRolloutWorkerIsRestartedAndTheJobEndsWithEveryStepOnce) {
    const std::string dir = cluster_scratch("restart");
    const std::string cfg = write_tiny_job(
        dir, "run_dir: " + dir + "/runs\nrecovery: {rollout_restarts: 2, restart_backoff_s: 0.2}\n");
    // 12 steps: time to stop a worker in the middle.
    const std::string addr = "tcp://127.0.0.1:" + std::to_string(free_port(24000));
    const std::vector<std::string> common = {"--config", cfg, "--scheduler", addr, "trainer.steps=12"};
    std::vector<pid_t> pids = start_cluster_roles(dir, common);
    const std::string metrics = dir + "/runs/cl/metrics.jsonl";
    // Once two steps are done, SIGTERM the worker process of rollout-0 (its supervisor printed its pid).
    ASSERT_TRUE(wait_for([&] { return metrics_steps(metrics).size() >= 2; }, 60))
        << slurp(dir + "/trainer.out");
    std::smatch m;
    const std::string first = slurp(dir + "/rollout0.out");
    ASSERT_TRUE(std::regex_search(first, m, std::regex("rollout-0: pid (\\d+)"))) << first;
    const pid_t worker = std::stoi(m[1]);
    ASSERT_EQ(kill(worker, SIGTERM), 0);
    bool all_exited = wait_for(
        [&] {
            for (pid_t& p : pids)
                if (p > 0 && waitpid(p, nullptr, WNOHANG) == p) p = 0;
            return std::all_of(pids.begin(), pids.end(), [](pid_t p) { return p == 0; });
        },
        300);  // about 8 s on an idle machine; minutes on a loaded one
    for (pid_t p : pids)
        if (p > 0) kill(p, SIGKILL), waitpid(p, nullptr, 0);
    const std::string r0 = slurp(dir + "/rollout0.out");
    ASSERT_TRUE(all_exited) << r0 << "\n--- trainer\n" << slurp(dir + "/trainer.out");
    EXPECT_NE(r0.find("rollout-0: restart 1 of 2 in 0.2 s after exit code 130"), std::string::npos) << r0;
    const std::regex started("rollout-0: pid");
    EXPECT_EQ(std::distance(std::sregex_iterator(r0.begin(), r0.end(), started), std::sregex_iterator()), 2)
        << r0;
    // Every step once, in order; the registry took the restart as the same instance (no refusal).
    std::vector<int64_t> want(12);
    std::iota(want.begin(), want.end(), 1);
    EXPECT_EQ(metrics_steps(metrics), want);
    const std::string sched = slurp(dir + "/scheduler.out");
    EXPECT_EQ(sched.find("refused"), std::string::npos) << sched;
    EXPECT_NE(sched.find("job done"), std::string::npos) << sched;
    if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stride::test
