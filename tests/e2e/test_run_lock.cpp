// One run of a job at a time (issue #15): while a processes-mode job runs, a second `stride run` of
// the same job is refused with the pid that holds <run>/job.lock, and it starts nothing (the running
// job finishes undisturbed).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

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
    {
        ProcessesJob job(cfg);
        ASSERT_GT(job.pid, 0);
        trainer = job.role_pid("trainer-0");
        ASSERT_GT(trainer, 0) << job.text;
        ASSERT_GT(job.role_pid("rollout-1"), 0) << job.text;
        ASSERT_EQ(kill(trainer, SIGSTOP), 0);
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
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!process_gone(trainer) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(process_gone(trainer)) << "the killed trainer " << trainer << " is still there";
    EXPECT_EQ(run_stride_within(300, {"run", cfg, "launcher=processes", "resume=auto"}, &out), 0) << out;
    std::filesystem::remove_all(dir);
}
