// One run of a job at a time (issue #15): while a processes-mode job runs, a second `stride run` of
// the same job is refused with the pid that holds <run>/job.lock, and it starts nothing (the running
// job finishes undisturbed).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "e2e_test_util.h"

using namespace stride::test::e2e;

TEST(JobRunLock, ASecondRunOfTheJobIsRefusedWhileTheFirstRuns) {
    const std::string dir = make_run_dir("lock");
    const std::string cfg = write_config(dir);
    ProcessesJob job(cfg);
    ASSERT_GT(job.pid, 0);
    ASSERT_GT(job.role_pid("rollout-1"), 0) << job.text;  // the job is up
    std::string out;
    EXPECT_NE(run_stride({"run", cfg, "launcher=processes", "resume=auto"}, &out), 0);
    EXPECT_NE(out.find("stride pid " + std::to_string(job.pid)), std::string::npos) << out;
    EXPECT_NE(out.find("job.lock"), std::string::npos) << out;
    EXPECT_EQ(out.find("role trainer-0"), std::string::npos) << "the refused run started roles:\n" << out;
    kill(job.pid, SIGTERM);  // the first job stops cleanly
    int status = 0;
    waitpid(job.pid, &status, 0);
    std::filesystem::remove_all(dir);
}

// The launcher killed with -9 while one of its roles cannot end yet (here: stopped, so the SIGTERM its
// parent's death sends stays pending, as for a trainer still writing its checkpoint): that role holds
// job.lock (inherited), so a restart is refused, naming the lock, and starts nothing beside it. Once the
// role is gone the restart goes ahead.
TEST(JobRunLock, ARestartIsRefusedWhileARoleOfAKilledLauncherStillRuns) {
    const std::string dir = make_run_dir("lock-orphan");
    const std::string cfg = write_config(dir);
    pid_t trainer = -1;
    std::vector<pid_t> others;  // buffer and rollout workers: they stop when the launcher dies
    {
        ProcessesJob job(cfg);
        ASSERT_GT(job.pid, 0);
        trainer = job.role_pid("trainer-0");
        ASSERT_GT(trainer, 0) << job.text;
        for (const char* name : {"buffer-0", "rollout-0", "rollout-1"}) {
            others.push_back(job.role_pid(name));
            ASSERT_GT(others.back(), 0) << name << "\n" << job.text;
        }
        // Training under way (the trainer is up, not dying at its start), then it is held.
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        while (std::chrono::steady_clock::now() < until &&
               read_metrics(dir + "/runs/e2e/metrics.jsonl").empty())
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ASSERT_FALSE(read_metrics(dir + "/runs/e2e/metrics.jsonl").empty()) << "the job never trained";
        ASSERT_EQ(kill(trainer, SIGSTOP), 0);
        ASSERT_FALSE(process_gone(trainer)) << "the trainer " << trainer << " had ended already";
        kill(job.pid, SIGKILL);
        waitpid(job.pid, nullptr, 0);
    }
    struct Reaper {  // never leave the stopped trainer behind
        pid_t pid;
        ~Reaper() { kill(pid, SIGKILL); }
    } reaper{trainer};
    std::string out;
    EXPECT_NE(run_stride_within(120, {"run", cfg, "launcher=processes", "resume=auto"}, &out), 0) << out;
    EXPECT_NE(out.find("job.lock"), std::string::npos) << out;
    EXPECT_EQ(out.find("role trainer-0"), std::string::npos) << "the refused run started roles:\n" << out;

    kill(trainer, SIGKILL);
    others.push_back(trainer);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (pid_t p : others) {
        while (!process_gone(p) && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        ASSERT_TRUE(process_gone(p)) << "role " << p << " of the first run is still there";
    }
    EXPECT_EQ(run_stride_within(300, {"run", cfg, "launcher=processes", "resume=auto"}, &out), 0) << out;
    std::filesystem::remove_all(dir);
}
