// Every role's /metrics is listed by the scheduler (issue #18), with real processes over loopback: the
// scheduler, the buffer, the trainer and two rollout workers started with --scheduler and metrics.port
// set each offer their /metrics URL to the registry, and the scheduler keeps <run>/scrape_targets.json
// (Prometheus file_sd) listing all five; each listed target answers with the role's own metrics.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/cli_test_util.h"
#include "tests/cluster/cluster_test_util.h"

namespace stride::test {
namespace {

// role -> "HOST:PORT" of <run>/scrape_targets.json, empty while it is missing or partial.
std::map<std::string, std::string> scrape_targets(const std::string& path) {
    std::ifstream in(path);
    const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    std::map<std::string, std::string> out;
    if (!j.is_array()) return out;
    for (const auto& t : j)
        out[t["labels"]["stride_role"].get<std::string>()] = t["targets"][0].get<std::string>();
    return out;
}

TEST(MetricsTargets, TheSchedulerListsEveryRolesMetricsAndEachAnswers) {
    const std::string dir = cluster_scratch("targets");
    // Six consecutive free ports: the base, buffer +1, trainer +2, scheduler +3, rollout-i +4+i.
    int base = free_port(28000);
    for (int k = 1; k <= 5; ++k) {
        if (port_free(base + k)) continue;
        for (base += k + 1; !port_free(base);) ++base;
        k = 0;
    }
    const std::string cfg = write_tiny_job(
        dir, "run_dir: " + dir + "/runs\nmetrics: {port: " + std::to_string(base) + ", bind: 127.0.0.1}\n");
    const std::string addr = "tcp://127.0.0.1:" + std::to_string(free_port(29000));
    const std::vector<std::string> common = {"--config", cfg, "--scheduler", addr, "trainer.steps=400"};
    std::vector<pid_t> pids = start_cluster_roles(dir, common);
    const std::string path = dir + "/runs/cl/scrape_targets.json";
    const bool listed = wait_for([&] { return scrape_targets(path).size() == 5; }, 120);
    const auto targets = scrape_targets(path);
    std::map<std::string, std::string> bodies;
    for (const auto& [role, hostport] : targets) {
        httplib::Client c("http://" + hostport);
        c.set_connection_timeout(2);
        c.set_read_timeout(5);
        auto res = c.Get("/metrics");
        bodies[role] = res && res->status == 200 ? res->body : "";
    }
    for (pid_t p : pids) kill(p, SIGTERM);
    for (pid_t p : pids) waitpid(p, nullptr, 0);
    ASSERT_TRUE(listed) << slurp(path) << "\n--- scheduler\n" << slurp(dir + "/scheduler.out");
    const std::map<std::string, int> offset = {
        {"buffer", 1}, {"trainer", 2}, {"scheduler", 3}, {"rollout-0", 4}, {"rollout-1", 5}};
    for (const auto& [role, off] : offset) {
        ASSERT_TRUE(targets.count(role)) << role << "\n" << slurp(path);
        EXPECT_EQ(targets.at(role), "127.0.0.1:" + std::to_string(base + off)) << role;
        // Each answers with its own process's metrics (the role label of process metrics).
        EXPECT_NE(bodies[role].find("role=\"" + role.substr(0, role.find('-')) + "\""), std::string::npos)
            << role << ":\n"
            << bodies[role].substr(0, 2000);
    }
    if (!HasFailure()) std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stride::test
