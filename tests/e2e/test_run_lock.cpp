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
