// Restarts inside a `launcher: processes` job (issue #18): a role killed with -9 mid-job is started
// again by the launcher (recovery.*) and the job ends on its own, with every step once in order in
// metrics.jsonl, every prompt of the job trained exactly once, and every sample the buffer ever
// acknowledged (acked.log) belonging to a trained group. Real processes, real RocksDB, kill -9.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "../../bench/chaos/progress_audit.h"
#include "tests/e2e/e2e_test_util.h"

namespace stride::test::e2e {
namespace {

namespace fs = std::filesystem;

constexpr int kSteps = 8, kPromptsPerStep = 4;

std::set<std::string> acked_groups(const std::string& acked_log) {
    std::set<std::string> groups;
    std::ifstream in(acked_log);
    std::string group, sample;
    while (in >> group >> sample) groups.insert(group);
    return groups;
}

std::set<std::string> every_prompt() {
    std::set<std::string> all;
    for (int p = 0; p < kSteps * kPromptsPerStep; ++p) all.insert("p" + std::to_string(p));
    return all;
}

nlohmann::json read_summary(const std::string& run) {
    std::ifstream in(run + "/run_summary.json");
    return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// Starts the job, kills role `victim` with -9 once `after_steps` steps are logged, waits for the job
// (at most 10 minutes on a loaded machine) and checks what every in-job restart must keep true.
void kill_and_check(const std::string& name, const std::string& victim, size_t after_steps) {
    const std::string dir = make_run_dir(name);
    const std::string cfg = write_config(
        dir,
        "recovery: {buffer_restarts: 2, trainer_restarts: 2, rollout_restarts: 2, restart_backoff_s: 0.2}\n");
    ProcessesJob job(cfg, {"trainer.steps=" + std::to_string(kSteps)});
    ASSERT_GT(job.pid, 0);
    const pid_t pid = job.role_pid(victim);
    ASSERT_GT(pid, 0) << job.text;
    const std::string run = dir + "/runs/e2e";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (std::chrono::steady_clock::now() < deadline &&
           read_metrics(run + "/metrics.jsonl").size() < after_steps)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_GE(read_metrics(run + "/metrics.jsonl").size(), after_steps);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    for (int waited = 0; waited < 6000 && waitpid(job.pid, &status, WNOHANG) == 0; ++waited)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (kill(job.pid, 0) == 0 && waitpid(job.pid, &status, WNOHANG) == 0) {
        kill(job.pid, SIGKILL);
        waitpid(job.pid, &status, 0);
        FAIL() << "the job did not end within 10 minutes after " << victim << " was killed";
    }
    char buf[4096];
    for (ssize_t n; (n = read(job.out, buf, sizeof(buf))) > 0;) job.text.append(buf, n);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << job.text;
    // The launcher restarted the victim once, and said so.
    EXPECT_NE(job.text.find("role " + victim + ": restart 1 of 2"), std::string::npos) << job.text;
    const nlohmann::json summary = read_summary(run);
    ASSERT_TRUE(summary.is_object()) << job.text;
    const std::string role = victim.substr(0, victim.find('-'));
    EXPECT_EQ(summary["restarts"][role], 1) << summary.dump();
    EXPECT_EQ(summary["steps"], kSteps);
    // Every step once, in order.
    std::vector<int64_t> steps;
    for (const auto& m : read_metrics(run + "/metrics.jsonl")) steps.push_back(m["step"].get<int64_t>());
    std::vector<int64_t> want;
    for (int s = 1; s <= kSteps; ++s) want.push_back(s);
    EXPECT_EQ(steps, want);
    // Every prompt trained exactly once, none from a discarded version; every acknowledged sample's
    // group among them (group id = prompt id).
    const chaos::ProgressAudit audit = chaos::audit_trained_log(run + "/trained.jsonl");
    EXPECT_EQ(audit.steps_out_of_order, 0) << (audit.problems.empty() ? "" : audit.problems[0]);
    EXPECT_EQ(audit.trained_twice, 0) << (audit.problems.empty() ? "" : audit.problems[0]);
    EXPECT_EQ(audit.from_discarded, 0) << (audit.problems.empty() ? "" : audit.problems[0]);
    EXPECT_EQ(audit.group_ids, every_prompt());
    for (const std::string& g : acked_groups(run + "/acked.log"))
        EXPECT_TRUE(audit.group_ids.count(g)) << "acknowledged group " << g << " was never trained";
    if (!testing::Test::HasFailure()) fs::remove_all(dir);
}

TEST(InJobRestarts, ABufferKilledMidJobIsRestartedOnItsRocksDbAndNothingAcknowledgedIsLost) {
    kill_and_check("rbuffer", "buffer-0", 2);
}

TEST(InJobRestarts, ATrainerKilledMidJobResumesFromItsCheckpointWithoutRepeatingOrSkippingAStep) {
    kill_and_check("rtrainer", "trainer-0", 3);
}

TEST(InJobRestarts, ARolloutWorkerKilledMidJobIsRestartedAndWhatItHeldIsHandedOutAgain) {
    kill_and_check("rrollout", "rollout-0", 2);
}

}  // namespace
}  // namespace stride::test::e2e
