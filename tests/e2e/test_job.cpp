// The whole job, for real: `stride run` as a subprocess, its roles as threads or as processes talking over
// loopback ZeroMQ, a real RocksDB buffer, checkpoints, resume, and SIGINT.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "e2e_test_util.h"

namespace fs = std::filesystem;

// How long roles may outlive a launcher killed with -9: they get SIGTERM at once (PR_SET_PDEATHSIG)
// and stop cleanly. The trainer may be waiting on the buffer, which stopped too: its BufferClient
// carries the trainer's stop flag, so that wait ends at once (about 2 s for the whole job, measured).
constexpr int kRolesGoneWithinS = 10;
constexpr int kTrainerGoneWithinS = kRolesGoneWithinS;

using namespace stride::test::e2e;

TEST(JobThreads, RunsCheckpointsAndResumesWithoutRepeatingAStep) {
    const std::string dir = make_run_dir("resume");
    const std::string cfg = write_config(dir);
    std::string out;
    ASSERT_EQ(run_stride({"run", cfg, "trainer.steps=2"}, &out), 0) << out;
    const std::string run = dir + "/runs/e2e";
    auto m = read_metrics(run + "/metrics.jsonl");
    ASSERT_EQ(m.size(), 2u) << out;
    for (const char* key :
         {"step", "policy_version", "reward/mean", "reward/std", "accuracy", "response_length/mean",
          "response_length/max", "tokens_per_s", "staleness/mean", "loss", "entropy", "grad_norm",
          "time/step_s", "logprob_mismatch/mean", "logprob_mismatch/max"})
        EXPECT_TRUE(m[0].contains(key)) << key;
    EXPECT_TRUE(m[0].contains("eval/accuracy"));  // first step
    EXPECT_TRUE(m[1].contains("eval/accuracy"));  // last step
    EXPECT_EQ(m[1]["policy_version"], 2);
    // Sync mode: every token was sampled by the version being trained, and both sides share one
    // engine, so the train-inference mismatch is float noise.
    EXPECT_EQ(m[0]["staleness/max"], 0.0);
    EXPECT_LT(m[0]["logprob_mismatch/max"].get<double>(), 1e-4);
    EXPECT_TRUE(fs::exists(run + "/checkpoints/step_000002/model/model.safetensors"));
    EXPECT_TRUE(fs::exists(run + "/config.yaml"));

    // Resume to 4 steps: steps 3 and 4 are appended, nothing trained twice, versions continue.
    ASSERT_EQ(run_stride({"run", cfg, "resume=auto"}, &out), 0) << out;
    m = read_metrics(run + "/metrics.jsonl");
    ASSERT_EQ(m.size(), 4u) << out;
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(m[i]["step"], i + 1);
        EXPECT_EQ(m[i]["policy_version"], i + 1);
    }
    EXPECT_TRUE(fs::exists(run + "/checkpoints/step_000004/job_state.json"));
    // Nothing left to do: a third resume is a no-op that succeeds.
    ASSERT_EQ(run_stride({"run", cfg, "resume=auto"}, &out), 0) << out;
    EXPECT_EQ(read_metrics(run + "/metrics.jsonl").size(), 4u);

    // `stride eval` scores the saved HF checkpoint on the eval split; greedy matches the trainer's
    // last eval of the same weights.
    const std::string report = dir + "/eval.json";
    ASSERT_EQ(
        run_stride({"eval", cfg, "checkpoint=" + run + "/checkpoints/step_000004/model", "out=" + report},
                   &out),
        0)
        << out;
    std::ifstream in(report);
    auto ev = nlohmann::json::parse(in);
    EXPECT_EQ(ev["prompts"], 20);
    EXPECT_DOUBLE_EQ(ev["greedy"]["accuracy"].get<double>(), m[3]["eval/accuracy"].get<double>());
    EXPECT_TRUE(ev["sampled"].contains("accuracy"));
    EXPECT_NE(run_stride({"eval", cfg}, &out), 0);
    EXPECT_NE(out.find("checkpoint="), std::string::npos) << out;
    fs::remove_all(dir);
}

TEST(JobThreads, ResumeRequireWithoutCheckpointFailsClearly) {
    const std::string dir = make_run_dir("require");
    std::string out;
    EXPECT_NE(run_stride({"run", write_config(dir), "resume=require"}, &out), 0);
    EXPECT_NE(out.find("resume"), std::string::npos) << out;
    fs::remove_all(dir);
}

TEST(JobThreads, BadConfigNamesTheKey) {
    const std::string dir = make_run_dir("badcfg");
    std::string out;
    EXPECT_NE(run_stride({"run", write_config(dir), "trainer.lr=abc"}, &out), 0);
    EXPECT_NE(out.find("trainer.lr"), std::string::npos) << out;
    EXPECT_NE(run_stride({"run", write_config(dir, "trainer.bogus: 1\n")}, &out), 0);
    EXPECT_NE(out.find("trainer.bogus"), std::string::npos) << out;
    fs::remove_all(dir);
}

TEST(JobThreads, SigintStopsCleanlyWithACheckpoint) {
    const std::string dir = make_run_dir("sigint");
    const std::string cfg = write_config(dir);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        freopen((dir + "/stderr.txt").c_str(), "w", stderr);
        freopen("/dev/null", "w", stdout);
        execl(STRIDE_BIN, STRIDE_BIN, "run", cfg.c_str(), "trainer.steps=100000",
              "trainer.checkpoint_every=0", (char*)nullptr);
        _exit(127);
    }
    const std::string metrics = dir + "/runs/e2e/metrics.jsonl";
    // Wait until training is under way (a step has been logged), then interrupt.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && read_metrics(metrics).size() < 2)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_GE(read_metrics(metrics).size(), 2u);
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
    const size_t steps = read_metrics(metrics).size();
    // The checkpoint written on the way out holds exactly the steps that were logged.
    char name[32];
    std::snprintf(name, sizeof(name), "step_%06zu", steps);
    const std::string state = dir + "/runs/e2e/checkpoints/" + name + "/job_state.json";
    ASSERT_TRUE(fs::exists(state)) << state;
    std::ifstream in(state);
    auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j["step"], steps);
    // stride run ends with the command line that resumes: this one plus resume=auto.
    std::ifstream err_in(dir + "/stderr.txt");
    const std::string err((std::istreambuf_iterator<char>(err_in)), std::istreambuf_iterator<char>());
    EXPECT_NE(err.find(std::string(STRIDE_BIN) + " run " + cfg +
                       " trainer.steps=100000 trainer.checkpoint_every=0 resume=auto"),
              std::string::npos)
        << err;
    fs::remove_all(dir);
}

TEST(JobProcesses, EveryRoleIsItsOwnProcess) {
    const std::string dir = make_run_dir("procs");
    std::string out;
    ASSERT_EQ(run_stride({"run", write_config(dir), "launcher=processes", "trainer.steps=3"}, &out), 0)
        << out;
    for (const char* role :
         {"role buffer-0: pid", "role trainer-0: pid", "role rollout-0: pid", "role rollout-1: pid"})
        EXPECT_NE(out.find(role), std::string::npos) << role << "\n" << out;
    auto m = read_metrics(dir + "/runs/e2e/metrics.jsonl");
    ASSERT_EQ(m.size(), 3u) << out;
    EXPECT_EQ(m[2]["policy_version"], 3);
    EXPECT_LT(m[2]["logprob_mismatch/max"].get<double>(), 1e-4);
    EXPECT_TRUE(fs::exists(dir + "/runs/e2e/checkpoints/step_000003/job_state.json"));
    // The launcher writes run_summary.json as threads mode does (issue #15), from what it knows.
    std::ifstream summary_file(dir + "/runs/e2e/run_summary.json");
    ASSERT_TRUE(summary_file.good()) << "no run_summary.json in processes mode\n" << out;
    const auto summary = nlohmann::json::parse(summary_file, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(summary.is_object()) << "run_summary.json is not a JSON object";
    EXPECT_EQ(summary["launcher"], "processes");
    EXPECT_EQ(summary["steps"], 3);
    EXPECT_EQ(summary["steps_this_run"], 3);
    EXPECT_EQ(summary["checkpoint_step"], 3);
    EXPECT_EQ(summary["rollout_workers"], 2);
    EXPECT_GT(summary["wall_s"].get<double>(), 0.0);
    EXPECT_GT(summary["trainer_busy_s"].get<double>(), 0.0);
    EXPECT_GE(summary["prompts_dispatched"].get<int64_t>(), 12);  // 3 steps x 4 prompts
    ASSERT_EQ(summary["roles"].size(), 4u) << summary.dump();
    for (const auto& r : summary["roles"]) EXPECT_FALSE(r["exited_early"].get<bool>()) << r.dump();
    EXPECT_EQ(summary["roles"][1]["role"], "trainer");
    EXPECT_EQ(summary["roles"][1]["exit_code"], 0);
    // Each rollout process reported its counters to the launcher (rollout_stats/), summed as in threads
    // mode: the report's time split has the rollout side, and every prompt taken is accounted for.
    EXPECT_EQ(summary["rollout_workers_reported"], 2) << summary.dump();
    EXPECT_GT(summary["rollout_busy_s"].get<double>(), 0.0) << summary.dump();
    EXPECT_GT(summary["engine_steps"].get<double>(), 0.0) << summary.dump();
    EXPECT_GE(summary["groups_put"].get<int64_t>(), 12) << summary.dump();
    EXPECT_EQ(summary["prompts_taken"].get<int64_t>() + summary["groups_resumed"].get<int64_t>(),
              summary["groups_put"].get<int64_t>() + summary["groups_given_up"].get<int64_t>() +
                  summary["groups_in_flight"].get<int64_t>())
        << summary.dump();
    EXPECT_NE(out.find("busy share of wall time: trainer"), std::string::npos) << out;
    fs::remove_all(dir);
}

TEST(JobProcesses, ARoleThatDiesStopsTheJobWithACheckpoint) {
    const std::string dir = make_run_dir("procdie");
    const std::string cfg = write_config(dir);
    ProcessesJob job(cfg);
    ASSERT_GT(job.pid, 0);
    // The role pids the launcher prints; wait for training, then kill -9 a rollout worker.
    const pid_t victim = job.role_pid("rollout-0");
    ASSERT_GT(victim, 0) << job.text;
    const std::string metrics = dir + "/runs/e2e/metrics.jsonl";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && read_metrics(metrics).size() < 2)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_GE(read_metrics(metrics).size(), 2u);
    kill(victim, SIGKILL);
    int status = 0;
    waitpid(job.pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    const size_t steps = read_metrics(metrics).size();
    char name[32];
    std::snprintf(name, sizeof(name), "step_%06zu", steps);
    EXPECT_TRUE(fs::exists(dir + "/runs/e2e/checkpoints/" + name + "/job_state.json")) << name;
    // run_summary.json says which role died and how (issue #15).
    std::ifstream summary_file(dir + "/runs/e2e/run_summary.json");
    ASSERT_TRUE(summary_file.good()) << "no run_summary.json";
    const auto summary = nlohmann::json::parse(summary_file, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(summary.is_object() && summary["roles"].size() == 4u) << summary.dump();
    EXPECT_EQ(summary["steps"], static_cast<int64_t>(steps));
    const auto& dead = summary["roles"][2];
    EXPECT_EQ(dead["role"], "rollout");
    EXPECT_EQ(dead["worker"], 0);
    EXPECT_EQ(dead["pid"], victim);
    EXPECT_EQ(dead["signal"], SIGKILL);
    EXPECT_TRUE(dead["exited_early"].get<bool>());
    // The killed worker's counters died with it; the other one reported.
    EXPECT_EQ(summary["rollout_workers_reported"], 1) << summary.dump();
    fs::remove_all(dir);
}

TEST(JobProcesses, RolesDieWithTheLauncher) {
    const std::string dir = make_run_dir("orphans");
    const std::string cfg = write_config(dir);
    ProcessesJob job(cfg);
    ASSERT_GT(job.pid, 0);
    // The four role pids the launcher prints.
    const char* names[] = {"buffer-0", "trainer-0", "rollout-0", "rollout-1"};
    std::vector<pid_t> roles;
    for (const char* name : names) {
        roles.push_back(job.role_pid(name));
        ASSERT_GT(roles.back(), 0) << name << "\n" << job.text;
    }
    // Training under way, then the launcher dies without a chance to stop anything.
    const std::string metrics = dir + "/runs/e2e/metrics.jsonl";
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && read_metrics(metrics).empty())
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_FALSE(read_metrics(metrics).empty());
    kill(job.pid, SIGKILL);
    waitpid(job.pid, nullptr, 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto wait_gone = [&](const std::vector<size_t>& which, int within_s) {
        const auto until = t0 + std::chrono::seconds(within_s);
        for (;;) {
            bool gone = true;
            for (size_t i : which) gone = gone && process_gone(roles[i]);
            if (gone || std::chrono::steady_clock::now() >= until) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    };
    wait_gone({0, 2, 3}, kRolesGoneWithinS);
    for (size_t i : {0, 2, 3})
        EXPECT_TRUE(process_gone(roles[i]))
            << names[i] << roles[i] << " outlived its launcher by " << kRolesGoneWithinS << " s";
    wait_gone({1}, kTrainerGoneWithinS);
    EXPECT_TRUE(process_gone(roles[1]))
        << names[1] << roles[1] << " outlived its launcher by " << kTrainerGoneWithinS << " s";
    for (pid_t r : roles)
        if (!process_gone(r)) kill(r, SIGKILL);  // leave nothing behind
    std::printf("roles gone %.2f s after the launcher\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    fs::remove_all(dir);
}

TEST(JobAsync, RolloutRunsAheadWithinTheStalenessBound) {
    const std::string dir = make_run_dir("async");
    std::string out;
    ASSERT_EQ(run_stride({"run", write_config(dir), "rollout.mode=async", "buffer.max_staleness=1",
                          "trainer.steps=6"},
                         &out),
              0)
        << out;
    auto m = read_metrics(dir + "/runs/e2e/metrics.jsonl");
    ASSERT_EQ(m.size(), 6u) << out;
    for (const auto& line : m) {
        EXPECT_LE(line["staleness/max"].get<double>(), 1.0) << line.dump();
        EXPECT_GE(line["staleness/mean"].get<double>(), 0.0);
    }
    fs::remove_all(dir);
}

TEST(JobThreads, AFreshStartDoesNotInheritAnEarlierRunOfTheSameName) {
    const std::string dir = make_run_dir("fresh");
    const std::string cfg = write_config(dir);
    std::string out;
    ASSERT_EQ(run_stride({"run", cfg, "trainer.steps=3"}, &out), 0) << out;
    ASSERT_EQ(run_stride({"run", cfg, "trainer.steps=2", "overwrite=true"}, &out), 0) << out;  // resume: off
    const std::string run = dir + "/runs/e2e";
    EXPECT_EQ(read_metrics(run + "/metrics.jsonl").size(), 2u);
    EXPECT_FALSE(fs::exists(run + "/checkpoints/step_000003"))
        << "a later resume would pick the old run's checkpoint";
    EXPECT_TRUE(fs::exists(run + "/checkpoints/step_000002"));
    fs::remove_all(dir);
}

TEST(JobThreads, ARunWithCheckpointsIsNotStartedOverWithoutSayingSo) {
    const std::string dir = make_run_dir("rerun");
    const std::string cfg = write_config(dir);
    const std::string run = dir + "/runs/e2e";
    std::string out;
    ASSERT_EQ(run_stride({"run", cfg, "trainer.steps=2"}, &out), 0) << out;
    // The same name again without resume: refused, both ways forward named, nothing touched.
    EXPECT_NE(run_stride({"run", cfg, "trainer.steps=3"}, &out), 0) << out;
    EXPECT_NE(out.find("resume=auto"), std::string::npos) << out;
    EXPECT_NE(out.find("overwrite=true"), std::string::npos) << out;
    EXPECT_TRUE(fs::exists(run + "/checkpoints/step_000002/job_state.json"));
    EXPECT_EQ(read_metrics(run + "/metrics.jsonl").size(), 2u);
    // overwrite=true starts over and says what it removes.
    ASSERT_EQ(run_stride({"run", cfg, "trainer.steps=1", "overwrite=true"}, &out), 0) << out;
    EXPECT_NE(out.find("removing"), std::string::npos) << out;
    EXPECT_EQ(read_metrics(run + "/metrics.jsonl").size(), 1u);
    EXPECT_FALSE(fs::exists(run + "/checkpoints/step_000002"));
    fs::remove_all(dir);
}

TEST(JobThreads, ARewardThatAlwaysRaisesStopsTheJobWithItsText) {
    const std::string dir = make_run_dir("raises");
    const std::string fn =
        std::string("python:") + STRIDE_SOURCE_DIR + "/tests/reward/python/raises.py:score";
    std::string out;
    const int rc =
        run_stride({"run", write_config(dir), "reward.fn=" + fn, "reward.workers=1", "trainer.steps=20",
                    "trainer.checkpoint_every=0", "trainer.eval_every=0", "data.eval_size=0"},
                   &out);
    EXPECT_NE(rc, 0) << out;
    EXPECT_NE(out.find("ValueError: bad sample"), std::string::npos) << out;  // the exception's text
    EXPECT_NE(out.find("reward.max_error_frac"), std::string::npos) << out;
    const std::string run = dir + "/runs/e2e";
    const auto m = read_metrics(run + "/metrics.jsonl");
    ASSERT_FALSE(m.empty()) << out;
    EXPECT_LE(m.size(), 5u) << "stops within the window of steps";
    for (const auto& line : m) {
        EXPECT_EQ(line["reward/errors"].get<double>(), 16.0) << line.dump();  // 4 prompts x 4 samples
        EXPECT_EQ(line["reward/timeouts"].get<double>(), 0.0);
        EXPECT_EQ(line["reward/ok"].get<double>(), 0.0);
        EXPECT_EQ(line["reward/error_frac"].get<double>(), 1.0);
    }
    char name[32];
    std::snprintf(name, sizeof(name), "step_%06zu", m.size());
    EXPECT_TRUE(fs::exists(run + "/checkpoints/" + name + "/job_state.json")) << name;
    std::ifstream summary_in(run + "/run_summary.json");
    const auto summary = nlohmann::json::parse(summary_in);
    EXPECT_EQ(summary["reward_errors"].get<int64_t>(), static_cast<int64_t>(16 * m.size()));
    fs::remove_all(dir);
}

TEST(JobThreads, MaxErrorFracOneNeverStopsTheJobAndStillCountsTheErrors) {
    const std::string dir = make_run_dir("raises-kept");
    const std::string fn =
        std::string("python:") + STRIDE_SOURCE_DIR + "/tests/reward/python/raises.py:score";
    std::string out;
    ASSERT_EQ(run_stride({"run", write_config(dir), "reward.fn=" + fn, "reward.workers=1",
                          "reward.max_error_frac=1", "trainer.steps=2", "trainer.checkpoint_every=0",
                          "trainer.eval_every=0", "data.eval_size=0"},
                         &out),
              0)
        << out;
    EXPECT_NE(out.find("reward errors 16"), std::string::npos) << out;  // the progress line
    const auto m = read_metrics(dir + "/runs/e2e/metrics.jsonl");
    ASSERT_EQ(m.size(), 2u) << out;
    for (const auto& line : m) EXPECT_EQ(line["reward/errors"].get<double>(), 16.0) << line.dump();
    fs::remove_all(dir);
}
