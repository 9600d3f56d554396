// Data-parallel trainer ranks in a whole `launcher: processes` job (trainer.ranks, issue #17): a job
// trained on two ranks checkpoints once (rank 0) and resumes on one rank and on two, continuing the
// step sequence; a rank killed with -9 makes rank 0 fail naming it and the launcher restarts the
// trainer group from its checkpoint; the threads launcher refuses several ranks naming the key.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/e2e/e2e_test_util.h"

namespace stride::test::e2e {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void expect_steps(const std::string& run, int n) {
    const auto m = read_metrics(run + "/metrics.jsonl");
    ASSERT_EQ(m.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
        EXPECT_EQ(m[i]["step"], i + 1);
        EXPECT_EQ(m[i]["policy_version"], i + 1);
    }
}

int64_t optimizer_step_of(const std::string& ckpt) {
    std::ifstream in(ckpt + "/job_state.json");
    return nlohmann::json::parse(in)["optimizer_step"].get<int64_t>();
}

TEST(JobRanks, TwoRanksCheckpointOnceAndResumeOnOneRankAndOnTwo) {
    const std::string dir = make_run_dir("ranks");
    const std::string cfg = write_config(dir, "launcher: processes\n");
    const std::string run = dir + "/runs/e2e";
    std::string out;
    ASSERT_EQ(run_stride({"run", cfg, "trainer.ranks=2", "trainer.steps=2"}, &out), 0) << out;
    expect_steps(run, 2);
    EXPECT_NE(out.find("role trainer-rank-1: pid"), std::string::npos) << out;
    EXPECT_TRUE(fs::exists(run + "/logs/trainer-rank-1.log"));
    // Written once, by rank 0: one checkpoint directory per step, no per-rank files.
    EXPECT_EQ(optimizer_step_of(run + "/checkpoints/step_000002"), 2);
    size_t entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(run + "/checkpoints")) ++entries;
    EXPECT_EQ(entries, 1u);

    ASSERT_EQ(run_stride({"run", cfg, "resume=auto", "trainer.ranks=1", "trainer.steps=3",
                          "trainer.checkpoint_every=1"},
                         &out),
              0)
        << out;
    expect_steps(run, 3);
    EXPECT_EQ(out.find("role trainer-rank-1"), std::string::npos) << out;
    EXPECT_EQ(optimizer_step_of(run + "/checkpoints/step_000003"), 3);

    ASSERT_EQ(run_stride({"run", cfg, "resume=auto", "trainer.ranks=2", "trainer.steps=4"}, &out), 0) << out;
    expect_steps(run, 4);
    EXPECT_NE(out.find("role trainer-rank-1: pid"), std::string::npos) << out;
    EXPECT_EQ(optimizer_step_of(run + "/checkpoints/step_000004"), 4);
    if (!testing::Test::HasFailure()) fs::remove_all(dir);
}

TEST(JobRanks, ARankKilledWithSigkillIsNamedAndTheTrainerGroupRestarts) {
    constexpr int kSteps = 6;
    const std::string dir = make_run_dir("rankkill");
    const std::string cfg = write_config(
        dir, "recovery: {trainer_restarts: 2, restart_backoff_s: 0.2}\ndeadlines: {collective_s: 60}\n");
    ProcessesJob job(
        cfg, {"trainer.steps=" + std::to_string(kSteps), "trainer.ranks=2", "trainer.checkpoint_every=1"});
    ASSERT_GT(job.pid, 0);
    const pid_t rank1 = job.role_pid("trainer-rank-1");
    ASSERT_GT(rank1, 0) << job.text;
    const std::string run = dir + "/runs/e2e";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    while (std::chrono::steady_clock::now() < deadline && read_metrics(run + "/metrics.jsonl").size() < 2)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_GE(read_metrics(run + "/metrics.jsonl").size(), 2u);
    const auto killed_at = std::chrono::steady_clock::now();
    ASSERT_EQ(kill(rank1, SIGKILL), 0);
    // Rank 0 notices at its next collective, names the rank, ends; the launcher restarts the trainer.
    const std::string restart = "role trainer-0: restart 1 of 2";
    char buf[4096];
    while (job.text.find(restart) == std::string::npos) {
        const ssize_t n = read(job.out, buf, sizeof(buf));
        if (n <= 0) break;
        job.text.append(buf, n);
    }
    ASSERT_NE(job.text.find(restart), std::string::npos) << job.text;
    // Well within the collective deadline: the dead rank was seen, not waited out.
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count(), 55.0);
    int status = 0;
    for (int waited = 0; waited < 6000 && waitpid(job.pid, &status, WNOHANG) == 0; ++waited)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (kill(job.pid, 0) == 0 && waitpid(job.pid, &status, WNOHANG) == 0) {
        kill(job.pid, SIGKILL);
        waitpid(job.pid, &status, 0);
        FAIL() << "the job did not end within 10 minutes after trainer rank 1 was killed";
    }
    for (ssize_t n; (n = read(job.out, buf, sizeof(buf))) > 0;) job.text.append(buf, n);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << job.text;
    const std::string log = read_file(run + "/logs/trainer.log");
    EXPECT_NE(log.find("trainer rank 1 (pid " + std::to_string(rank1) + ") died: signal 9"),
              std::string::npos)
        << log;
    // The new group: a new rank 1, and every step once, in order.
    EXPECT_NE(job.text.rfind("role trainer-rank-1: pid"), job.text.find("role trainer-rank-1: pid"))
        << job.text;
    expect_steps(run, kSteps);
    if (!testing::Test::HasFailure()) fs::remove_all(dir);
}

TEST(JobRanks, TheThreadsLauncherRefusesSeveralRanksNamingTheKey) {
    const std::string dir = make_run_dir("rankthreads");
    const std::string cfg = write_config(dir);
    std::string out;
    EXPECT_NE(run_stride({"run", cfg, "trainer.ranks=2"}, &out), 0);
    EXPECT_NE(out.find("trainer.ranks"), std::string::npos) << out;
    EXPECT_NE(out.find("launcher: processes"), std::string::npos) << out;
    EXPECT_NE(run_stride({"run", cfg, "trainer.ranks=0"}, &out), 0);
    EXPECT_NE(out.find("trainer.ranks"), std::string::npos) << out;
    fs::remove_all(dir);
}

}  // namespace
}  // namespace stride::test::e2e
