// A whole job on a full disk (issue #15): its run directory on a 1 MiB tmpfs, mounted in a mount
// namespace of a child process (tests/tmpfs_test_util.h). The job stops with an error naming the path
// and the cause and exits 1 — never an abort — and once the disk has room (the tmpfs remounted
// larger) `resume=auto` runs the job to its end.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "e2e_test_util.h"
#include "tests/tmpfs_test_util.h"

using namespace stride::test::e2e;
using stride::test::run_on_tmpfs;
using stride::test::slurp_file;

namespace {

// `stride ARGS` to its end within `seconds`; its output into `out_file`; returns the raw wait status.
int stride_status(const std::vector<std::string>& args, int seconds, const std::string& out_file) {
    std::string cmd = "timeout -s KILL " + std::to_string(seconds) + " '" + STRIDE_BIN + "'";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " > '" + out_file + "' 2>&1";
    return std::system(cmd.c_str());
}

}  // namespace

TEST(JobStorageFaults, AJobOnAFullDiskStopsNamingThePathAndResumesOnceThereIsRoom) {
    const std::string dir = make_run_dir("enospc");
    const std::string cfg = write_config(dir);
    const std::string mnt = dir + "/mnt";
    const std::string full_out = dir + "/full.txt", roomy_out = dir + "/roomy.txt";
    int full = -1, roomy = -1, steps = 0;
    const bool mounted = run_on_tmpfs(mnt, "1m", false, dir + "/result.txt", [&] {
        // A job far longer than the disk holds: it fills it.
        full = stride_status({"run", cfg, "run_dir=" + mnt, "trainer.steps=100000", "trainer.eval_every=0"},
                             300, full_out);
        // The disk gets room; the same run resumes, for two steps more than it logged.
        if (mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT, "size=256m") != 0) return;
        steps = static_cast<int>(read_metrics(mnt + "/e2e/metrics.jsonl").size()) + 2;
        roomy = stride_status({"run", cfg, "run_dir=" + mnt, "resume=auto",
                               "trainer.steps=" + std::to_string(steps), "trainer.eval_every=0"},
                              300, roomy_out);
        std::ofstream(dir + "/statuses.txt") << full << ' ' << roomy << ' ' << steps;
        std::filesystem::copy_file(mnt + "/e2e/metrics.jsonl", dir + "/metrics.jsonl");
    });
    if (!mounted) GTEST_SKIP() << "no mount namespace with tmpfs here (needs CAP_SYS_ADMIN)";
    std::ifstream(dir + "/statuses.txt") >> full >> roomy >> steps;
    const std::string first = slurp_file(full_out);
    ASSERT_TRUE(WIFEXITED(full)) << "the job on a full disk died of a signal (an abort?):\n" << first;
    EXPECT_EQ(WEXITSTATUS(full), 1) << first;
    EXPECT_NE(first.find("No space left on device"), std::string::npos) << first;
    EXPECT_NE(first.find(mnt + "/e2e"), std::string::npos) << "the error does not name the path:\n" << first;

    const std::string second = slurp_file(roomy_out);
    ASSERT_TRUE(WIFEXITED(roomy) && WEXITSTATUS(roomy) == 0) << second;
    const auto metrics = read_metrics(dir + "/metrics.jsonl");
    ASSERT_FALSE(metrics.empty()) << second;
    EXPECT_EQ(metrics.back()["step"], steps) << second;
    std::filesystem::remove_all(dir);
}
