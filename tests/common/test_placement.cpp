// Placement: CPU lists, pinning a role's thread and its OpenMP team, the per-worker split, and the
// config errors that name the key.
#include <gtest/gtest.h>
#include <omp.h>
#include <sched.h>

#include <atomic>
#include <thread>

#include "common/base/error.h"
#include "common/base/placement.h"
#include "common/role_placement.h"
#include "scheduler/job_config.h"

namespace stride {
namespace {

const char* kMinimal = R"(
tokenizer: tok.json
data:
  train: gen:arith?n=1000&seed=1
)";

std::string error_of(const std::vector<std::string>& overrides) {
    try {
        parse_job_config(kMinimal, "test.yaml", overrides);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(Placement, ParsesCpuLists) {
    EXPECT_EQ(parse_cpu_list(""), std::vector<int>{});
    EXPECT_EQ(parse_cpu_list("3"), std::vector<int>{3});
    EXPECT_EQ(parse_cpu_list("0-3,8, 10-11,2"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
    EXPECT_EQ(format_cpu_list({0, 1, 2, 3, 8, 10, 11}), "0-3,8,10-11");
    EXPECT_EQ(format_cpu_list(parse_cpu_list("5,4")), "4-5");
}

TEST(Placement, RejectsBadCpuListsNamingThePart) {
    for (const char* bad : {"a", "1-", "-2", "3-1", "1,,2", "1.5", "99999999"}) {
        try {
            parse_cpu_list(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
                << e.what();
        }
    }
}

TEST(Placement, PinsTheThreadAndItsOpenMpTeam) {
    const std::vector<int> allowed = allowed_cpus();
    ASSERT_FALSE(allowed.empty());
    const int cpu = allowed.back();
    std::atomic<int> team_size{0}, off_cpu{0};
    std::vector<int> mask_after;
    std::thread t([&] {
        pin_current_thread({cpu});
        mask_after = allowed_cpus();
#pragma omp parallel
        {
            if (omp_get_thread_num() == 0) team_size = omp_get_num_threads();
            for (int i = 0; i < 1000; ++i)
                if (sched_getcpu() != cpu) ++off_cpu;
        }
    });
    t.join();
    EXPECT_EQ(mask_after, std::vector<int>{cpu});
    EXPECT_EQ(team_size.load(), 1);
    EXPECT_EQ(off_cpu.load(), 0);
    // The caller's own mask is untouched.
    EXPECT_EQ(allowed_cpus(), allowed);
}

TEST(Placement, UnavailableCpuIsAnErrorNamingIt) {
    const std::vector<int> allowed = allowed_cpus();
    const int missing = allowed.back() + 1;
    std::string msg;
    std::thread t([&] {
        try {
            pin_current_thread({missing});
        } catch (const Error& e) {
            msg = e.what();
        }
    });
    t.join();
    EXPECT_NE(msg.find("CPU " + std::to_string(missing) + " is not available"), std::string::npos) << msg;
}

TEST(Placement, RolloutWorkersSplitTheirCpus) {
    JobConfig c = parse_job_config(kMinimal, "test.yaml",
                                   {"rollout.workers=2", "placement.rollout_cpus=4-7",
                                    "placement.rollout_cpus_per_worker=2", "placement.trainer_cpus=0-3"});
    EXPECT_EQ(role_cpus(c, "rollout", 0), (std::vector<int>{4, 5}));
    EXPECT_EQ(role_cpus(c, "rollout", 1), (std::vector<int>{6, 7}));
    EXPECT_EQ(role_cpus(c, "trainer", 0), (std::vector<int>{0, 1, 2, 3}));
    EXPECT_TRUE(role_cpus(c, "buffer", 0).empty());
    c.placement.rollout_cpus_per_worker = 0;
    EXPECT_EQ(role_cpus(c, "rollout", 1), (std::vector<int>{4, 5, 6, 7}));
}

TEST(Placement, ConfigErrorsNameTheKey) {
    EXPECT_NE(error_of({"placement.trainer_cpus=0-x"}).find("placement.trainer_cpus: cpu list '0-x'"),
              std::string::npos)
        << error_of({"placement.trainer_cpus=0-x"});
    const std::string split =
        error_of({"rollout.workers=3", "placement.rollout_cpus=0-3", "placement.rollout_cpus_per_worker=2"});
    EXPECT_NE(split.find("placement.rollout_cpus_per_worker: 3 workers x 2 CPUs need 6 CPUs"),
              std::string::npos)
        << split;
    EXPECT_EQ(error_of({"placement.rollout_cpus=0-1", "placement.trainer_cpus=1"}), "");
}

TEST(Placement, UnpinnedRolesTakeTheThreadsKey) {
    JobConfig c = parse_job_config(kMinimal, "test.yaml", {"threads=1"});
    int team = 0;
    std::string line;
    std::thread t([&] {
        line = apply_role_placement(c, "trainer", 0);
        team = omp_get_max_threads();
    });
    t.join();
    EXPECT_EQ(team, 1);
    EXPECT_EQ(line, "trainer: not pinned (1 compute threads)");
}

}  // namespace
}  // namespace stride
