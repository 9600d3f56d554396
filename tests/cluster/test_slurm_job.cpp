// Slurm, for real (issue #18): tests/cluster/slurm_local.sh starts munged, slurmctld and slurmd on this
// machine (own key, ports, state and pid files under a scratch directory), `stride launch slurm --wait`
// submits a 4-step job with a buffer, a trainer and two rollout workers (ops/slurm/stride.sbatch: one
// srun step per role, --overcommit on 2 cores), and the job must finish with its step count; the
// daemons are stopped by their pid files. Skipped only without root or the packages. About 10 s.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/cli_test_util.h"
#include "tests/cluster/cluster_test_util.h"

namespace stride::test {
namespace {

namespace fs = std::filesystem;

const std::string kSlurmScript = STRIDE_SOURCE_DIR "/tests/cluster/slurm_local.sh";

// A local Slurm for the test's lifetime; the SLURM_CONF its clients need.
class LocalSlurm {
   public:
    explicit LocalSlurm(std::string dir) : dir_(std::move(dir)) {
        int status = 0;
        out_ = run_capture("bash " + kSlurmScript + " start " + dir_ + "/slurm 2>&1", status);
        skipped_ = WIFEXITED(status) && WEXITSTATUS(status) == 77;
        up_ = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (up_) conf_ = dir_ + "/slurm/slurm.conf";
    }
    // Stops exactly the daemons it started (pid files); the scratch directory stays when the test failed.
    ~LocalSlurm() {
        run_capture("bash " + kSlurmScript + " stop " + dir_ + "/slurm 2>&1");
        if (!::testing::Test::HasFailure()) fs::remove_all(dir_);
    }
    bool up() const { return up_; }
    bool skipped() const { return skipped_; }
    const std::string& output() const { return out_; }
    std::string env() const { return "SLURM_CONF=" + conf_ + " "; }
    std::string log(const std::string& name) const { return slurp(dir_ + "/slurm/log/" + name); }

   private:
    std::string dir_, out_, conf_;
    bool up_ = false, skipped_ = false;
};

TEST(SlurmJob, LaunchSlurmRunsBufferTrainerAndTwoRolloutWorkersToTheEnd) {
    const std::string dir = cluster_scratch("slurm");
    LocalSlurm slurm(dir);
    if (slurm.skipped()) GTEST_SKIP() << slurm.output();
    ASSERT_TRUE(slurm.up()) << slurm.output() << slurm.log("slurmctld.log") << slurm.log("slurmd.log");
    const std::string cfg = write_tiny_job(dir, "run_dir: " + dir + "/runs\n");
    int status = 0;
    const std::string out =
        run_capture("cd " + dir + " && " + slurm.env() + "timeout 120 " STRIDE_BIN " launch slurm " + cfg +
                        " --overcommit --wait --output " + dir + "/job.out 2>&1",
                    status);
    const std::string job = slurp(dir + "/job.out");
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out << "\n--- job.out\n" << job;
    EXPECT_NE(out.find("--ntasks=5"), std::string::npos) << out;  // scheduler, buffer, trainer, 2 workers
    for (const char* role : {"scheduler", "buffer", "trainer", "rollout-0", "rollout-1"})
        EXPECT_NE(job.find(std::string(role) + " exited with 0"), std::string::npos) << role << "\n" << job;
    EXPECT_EQ(metrics_steps(dir + "/runs/cl/metrics.jsonl"), (std::vector<int64_t>{1, 2, 3, 4}));
    // Each role's output is its own srun step's.
    bool trainer_out = false;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find("-trainer.out") != std::string::npos)
            trainer_out = slurp(e.path()).find("trainer: finished at step 4 of 4") != std::string::npos;
    EXPECT_TRUE(trainer_out) << job;
}

TEST(SlurmJob, DryRunPrintsTheSbatchCommandAndABadConfigFailsBeforeSubmitting) {
    const std::string dir = cluster_scratch("slurm-dry");
    const std::string cfg = write_tiny_job(dir);
    int status = 0;
    const std::string out =
        run_capture(STRIDE_BIN " launch slurm " + cfg + " --dry-run --nodes 2 2>&1", status);
    EXPECT_EQ(WEXITSTATUS(status), 0) << out;
    EXPECT_NE(out.find("sbatch --job-name=stride-cl --ntasks=5 --nodes=2"), std::string::npos) << out;
    EXPECT_NE(out.find("ops/slurm/stride.sbatch " + cfg + " 2"), std::string::npos) << out;
    const std::string bad =
        run_capture(STRIDE_BIN " launch slurm " + cfg + " --dry-run trainer.lr=-1 2>&1", status);
    EXPECT_NE(WEXITSTATUS(status), 0);
    EXPECT_NE(bad.find("trainer.lr"), std::string::npos) << bad;
    fs::remove_all(dir);
}

}  // namespace
}  // namespace stride::test
