// Re-dispatch of a lost rollout worker's prompts (issue #18), with real processes over loopback: the
// scheduler, the buffer, the trainer and two rollout workers started with --scheduler and no restarts.
// rollout-0 is frozen (SIGSTOP) until the buffer holds an in-flight record of it (asked with
// LoadPartials), so it surely holds a prompt of a step the synchronous trainer waits on; then it is
// killed with SIGKILL and never comes back. After network.lost_after_s the registry declares it lost,
// the dispatcher hands what it held to rollout-1, and the job ends on its own with every step once and
// every prompt trained once (without re-dispatch it would wait for that prompt forever).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <regex>
#include <string>
#include <vector>

#include "../../bench/chaos/progress_audit.h"
#include "buffer/buffer_client.h"
#include "common/messaging.h"
#include "tests/cli_test_util.h"
#include "tests/cluster/cluster_test_util.h"

namespace stride::test {
namespace {

TEST(RolloutRedispatch, AKilledWorkersPromptsGoToTheOtherAndTheJobEndsWithEveryPromptOnce) {
    const std::string dir = cluster_scratch("redispatch");
    const std::string cfg = write_tiny_job(dir, "run_dir: " + dir + "/runs\nnetwork: {lost_after_s: 4}\n");
    const int steps = 10;
    const std::string addr = "tcp://127.0.0.1:" + std::to_string(free_port(26000));
    const std::vector<std::string> common = {"--config",
                                             cfg,
                                             "--scheduler",
                                             addr,
                                             "trainer.steps=" + std::to_string(steps),
                                             "rollout.max_batch_seqs=4"};
    std::vector<pid_t> pids = start_cluster_roles(dir, common);
    const std::string metrics = dir + "/runs/cl/metrics.jsonl";
    ASSERT_TRUE(wait_for([&] { return metrics_steps(metrics).size() >= 2; }, 120))
        << slurp(dir + "/trainer.out");
    std::smatch m;
    const std::string early = slurp(dir + "/scheduler.out");
    ASSERT_TRUE(std::regex_search(early, m, std::regex("serves buffer at (tcp://\\S+)"))) << early;
    ZmqContext zctx;
    BufferClient buffer(zctx, m[1], "cl");
    const bool holds = wait_for(
        [&] {
            kill(pids[3], SIGSTOP);  // frozen: what the buffer says it holds stays true until the kill
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            for (const v1::InFlightGroup& g : buffer.load_partials())
                if (g.worker_id() == "rollout-0") return true;
            kill(pids[3], SIGCONT);
            return false;
        },
        120);
    ASSERT_TRUE(holds) << "rollout-0 never held a group";
    ASSERT_EQ(kill(pids[3], SIGKILL), 0);
    ASSERT_EQ(waitpid(pids[3], nullptr, 0), pids[3]);
    pids[3] = 0;
    const bool all_exited = wait_for(
        [&] {
            for (pid_t& p : pids)
                if (p > 0 && waitpid(p, nullptr, WNOHANG) == p) p = 0;
            return std::all_of(pids.begin(), pids.end(), [](pid_t p) { return p == 0; });
        },
        300);  // about 10 s on an idle machine; minutes on a loaded one
    for (pid_t p : pids)
        if (p > 0) kill(p, SIGKILL), waitpid(p, nullptr, 0);
    const std::string sched = slurp(dir + "/scheduler.out");
    ASSERT_TRUE(all_exited) << sched << "\n--- trainer\n" << slurp(dir + "/trainer.out");
    // The registry noticed, and what rollout-0 held was handed out again.
    EXPECT_NE(sched.find("rollout-0 (instance"), std::string::npos) << sched;
    EXPECT_NE(sched.find("silent for"), std::string::npos) << sched;
    ASSERT_TRUE(std::regex_search(sched, m,
                                  std::regex("(\\d+) prompts to hand out again: worker rollout-0 was lost")))
        << sched;
    EXPECT_GE(std::stoi(m[1]), 1);
    ASSERT_TRUE(std::regex_search(sched, m, std::regex("(\\d+) handed out again"))) << sched;
    EXPECT_GE(std::stoi(m[1]), 1);
    // Every step once, in order; every prompt of the job trained exactly once (group id = prompt id).
    std::vector<int64_t> want(steps);
    std::iota(want.begin(), want.end(), 1);
    EXPECT_EQ(metrics_steps(metrics), want);
    const chaos::ProgressAudit audit = chaos::audit_trained_log(dir + "/runs/cl/trained.jsonl");
    EXPECT_EQ(audit.steps_out_of_order, 0);
    EXPECT_EQ(audit.trained_twice, 0);
    std::set<std::string> all;
    for (int p = 0; p < steps * 4; ++p) all.insert("p" + std::to_string(p));
    EXPECT_EQ(audit.group_ids, all);
    // run_summary.json: the trainer's half and the scheduler's (one run_dir on this machine).
    std::ifstream summary_file(dir + "/runs/cl/run_summary.json");
    const auto summary = nlohmann::json::parse(summary_file, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(summary.is_object()) << slurp(dir + "/runs/cl/run_summary.json");
    EXPECT_EQ(summary["launcher"], "cluster");
    EXPECT_EQ(summary["steps"], steps);
    EXPECT_EQ(summary["prompts_dispatched"], steps * 4);
    EXPECT_GE(summary["prompts_redispatched"].get<int64_t>(), 1);
    EXPECT_EQ(summary["groups_quarantined"], 0);
    if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stride::test
