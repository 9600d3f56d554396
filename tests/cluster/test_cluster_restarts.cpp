// Restarts inside a cluster-mode job (issue #18): the scheduler, the buffer, the trainer and two rollout
// workers started with --scheduler over loopback, with recovery.buffer_restarts and trainer_restarts.
// Mid-job the buffer's process is killed with -9 (its supervisor, the `stride role buffer` the test
// started, is left alone, as a node agent or the OOM killer would), then the trainer's. The buffer
// comes back on its RocksDB directory at the same port; the trainer comes back from its last checkpoint
// once the registry has paused the rollout workers. The job ends on its own with steps 1..N once each in
// metrics.jsonl, every prompt trained exactly once and none from a discarded version (trained.jsonl),
// every acknowledged sample's group trained (acked.log), and the restarts counted in run_summary.json.
// About 30 s on an idle machine.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "../../bench/chaos/progress_audit.h"
#include "tests/cli_test_util.h"
#include "tests/cluster/cluster_test_util.h"

namespace stride::test {
namespace {

constexpr int kSteps = 12, kPromptsPerStep = 4;

// The pid the supervisor in `log` printed for its latest start of `name` ("NAME: pid N"), or 0.
pid_t latest_child(const std::string& log, const std::string& name) {
    const std::string text = slurp(log);
    const std::regex started(name + ": pid (\\d+)");
    pid_t pid = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), started); it != std::sregex_iterator();
         ++it)
        pid = std::stoi((*it)[1]);
    return pid;
}

std::set<std::string> acked_groups(const std::string& acked_log) {
    std::set<std::string> groups;
    std::ifstream in(acked_log);
    std::string group, sample;
    while (in >> group >> sample) groups.insert(group);
    return groups;
}

TEST(ClusterRestarts, ABufferThenATrainerKilledWithMinus9AreRestartedAndTheJobEndsWithEveryStepOnce) {
    const std::string dir = cluster_scratch("restarts");
    const std::string cfg = write_tiny_job(
        dir, "run_dir: " + dir +
                 "/runs\nrecovery: {buffer_restarts: 3, trainer_restarts: 3, restart_backoff_s: 0.2}\n");
    const std::string addr = "tcp://127.0.0.1:" + std::to_string(free_port(25000));
    const std::vector<std::string> common = {"--config", cfg, "--scheduler", addr,
                                             "trainer.steps=" + std::to_string(kSteps)};
    std::vector<pid_t> pids = start_cluster_roles(dir, common);
    const std::string run = dir + "/runs/cl";
    const std::string metrics = run + "/metrics.jsonl";
    auto steps_done = [&] { return metrics_steps(metrics).size(); };

    // Step 2 is trained: kill the buffer's process.
    ASSERT_TRUE(wait_for([&] { return steps_done() >= 2; }, 180)) << slurp(dir + "/trainer.out");
    const pid_t buffer = latest_child(dir + "/buffer.out", "buffer");
    ASSERT_GT(buffer, 0) << slurp(dir + "/buffer.out");
    ASSERT_EQ(kill(buffer, SIGKILL), 0);
    // Restarted, and training goes on with it: then kill the trainer's process.
    ASSERT_TRUE(wait_for([&] { return latest_child(dir + "/buffer.out", "buffer") != buffer; }, 60))
        << slurp(dir + "/buffer.out");
    const size_t at_buffer_restart = steps_done();
    ASSERT_TRUE(wait_for([&] { return steps_done() >= std::max<size_t>(at_buffer_restart + 2, 5); }, 240))
        << slurp(dir + "/trainer.out") << "\n--- buffer\n"
        << slurp(dir + "/buffer.out");
    const pid_t trainer = latest_child(dir + "/trainer.out", "trainer");
    ASSERT_GT(trainer, 0) << slurp(dir + "/trainer.out");
    ASSERT_EQ(kill(trainer, SIGKILL), 0);

    std::vector<int> status(pids.size(), -1);
    const bool all_exited = wait_for(
        [&] {
            for (size_t i = 0; i < pids.size(); ++i)
                if (pids[i] > 0 && waitpid(pids[i], &status[i], WNOHANG) == pids[i]) pids[i] = 0;
            return std::all_of(pids.begin(), pids.end(), [](pid_t p) { return p == 0; });
        },
        420);  // about 30 s on an idle machine; minutes on a loaded one
    for (pid_t p : pids)
        if (p > 0) kill(p, SIGKILL), waitpid(p, nullptr, 0);
    const std::string trainer_out = slurp(dir + "/trainer.out"), buffer_out = slurp(dir + "/buffer.out");
    const std::string sched = slurp(dir + "/scheduler.out");
    ASSERT_TRUE(all_exited) << trainer_out << "\n--- buffer\n" << buffer_out << "\n--- scheduler\n" << sched;
    for (size_t i = 0; i < status.size(); ++i)
        EXPECT_TRUE(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0) << "role " << i << ": " << status[i];

    // Each victim's supervisor restarted it once, the trainer with the rollout workers paused.
    EXPECT_NE(buffer_out.find("buffer: restart 1 of 3 in 0.2 s after signal 9"), std::string::npos)
        << buffer_out;
    EXPECT_NE(trainer_out.find("trainer: restart 1 of 3 in 0.2 s after signal 9"), std::string::npos)
        << trainer_out;
    EXPECT_NE(sched.find("pausing the rollout workers"), std::string::npos) << sched;
    EXPECT_NE(sched.find("the trainer resumed"), std::string::npos) << sched;
    EXPECT_EQ(sched.find("refused"), std::string::npos) << sched;

    // Every step once, in order.
    std::vector<int64_t> want(kSteps);
    std::iota(want.begin(), want.end(), 1);
    EXPECT_EQ(metrics_steps(metrics), want);
    // The restarts and every prompt accounted for in run_summary.json.
    std::ifstream in(run + "/run_summary.json");
    const nlohmann::json summary = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(summary.is_object()) << sched;
    EXPECT_EQ(summary["restarts"]["buffer"], 1) << summary.dump();
    EXPECT_EQ(summary["restarts"]["trainer"], 1) << summary.dump();
    EXPECT_EQ(summary["restarts"]["rollout"], 0) << summary.dump();
    EXPECT_EQ(summary["steps"], kSteps) << summary.dump();
    EXPECT_EQ(summary["prompts_dispatched"], kSteps * kPromptsPerStep) << summary.dump();
    // Every prompt trained exactly once, none from a discarded version; every acknowledged sample's
    // group among them (group id = prompt id).
    const chaos::ProgressAudit audit = chaos::audit_trained_log(run + "/trained.jsonl");
    const std::string first = audit.problems.empty() ? "" : audit.problems[0];
    EXPECT_EQ(audit.steps_out_of_order, 0) << first;
    EXPECT_EQ(audit.trained_twice, 0) << first;
    EXPECT_EQ(audit.from_discarded, 0) << first;
    std::set<std::string> every_prompt;
    for (int p = 0; p < kSteps * kPromptsPerStep; ++p) every_prompt.insert("p" + std::to_string(p));
    EXPECT_EQ(audit.group_ids, every_prompt);
    for (const std::string& g : acked_groups(run + "/acked.log"))
        EXPECT_TRUE(audit.group_ids.count(g)) << "acknowledged group " << g << " was never trained";
    if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stride::test
