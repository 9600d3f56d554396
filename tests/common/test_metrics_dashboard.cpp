// The shipped Grafana dashboard and Prometheus config match the code: the dashboard is valid JSON
// with the panels the issue asks for, and every metric its expressions name is exported by some
// role (checked against a registry holding every role's metric set); the README lists them all.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "buffer/buffer_metrics.h"
#include "common/metrics.h"
#include "common/process_metrics.h"
#include "job/weight_group.h"
#include "rollout/rollout_metrics.h"
#include "trainer/trainer_metrics.h"

using namespace stride;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every role's metric families, registered the way the roles register them.
MetricsRegistry& all_role_metrics() {
    static MetricsRegistry* r = [] {
        auto* reg = new MetricsRegistry();
        RolloutMetrics rollout("j", "rollout-0", *reg);
        BufferMetrics buffer("j", *reg);
        TrainerMetrics trainer("j", *reg);
        record_weights_published("j", 1, 0.1, 1, *reg);
        record_weight_transfer(*reg, "j", "trainer", "nccl", 0.5);
        count_weight_sync_failure(*reg, "j", "rollout-0", "nccl", "expired");
        register_process_metrics(*reg, "j", "job", "0");
        return reg;
    }();
    return *r;
}

// Names a query may use: gauges and counters as exposed, histograms with their three suffixes.
std::set<std::string> queryable_names() {
    std::set<std::string> names;
    std::istringstream in(all_role_metrics().render());
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("# TYPE ", 0) != 0) continue;
        std::istringstream f(line.substr(7));
        std::string name, type;
        f >> name >> type;
        if (type == "histogram")
            for (const char* s : {"_bucket", "_sum", "_count"}) names.insert(name + s);
        else
            names.insert(name);
    }
    return names;
}

}  // namespace

TEST(MetricsDashboard, EveryExpressionNamesAnExportedMetric) {
    const std::string path = std::string(STRIDE_SOURCE_DIR) + "/ops/grafana/stride-dashboard.json";
    const auto dash = nlohmann::json::parse(slurp(path), nullptr, false);
    ASSERT_FALSE(dash.is_discarded()) << path << " is not valid JSON";
    ASSERT_TRUE(dash.contains("panels") && dash["panels"].is_array());

    const std::set<std::string> exported = queryable_names();
    ASSERT_GT(exported.size(), 50u);
    const std::regex metric(R"(\bstride_[a-zA-Z0-9_]+)");
    std::set<std::string> titles, used;
    for (const auto& panel : dash["panels"]) {
        const std::string title = panel.value("title", "");
        titles.insert(title);
        ASSERT_TRUE(panel.contains("targets") && !panel["targets"].empty()) << title;
        for (const auto& t : panel["targets"]) {
            const std::string expr = t.value("expr", "");
            ASSERT_FALSE(expr.empty()) << title;
            int found = 0;
            for (std::sregex_iterator it(expr.begin(), expr.end(), metric), end; it != end; ++it, ++found) {
                used.insert(it->str());
                EXPECT_TRUE(exported.count(it->str())) << title << ": " << it->str() << " is not exported\n"
                                                       << expr;
            }
            EXPECT_GT(found, 0) << title << ": " << expr;
        }
    }
    for (const char* want :
         {"Throughput", "Reward and accuracy", "Response length", "Staleness (policy versions)", "Buffer",
          "Reward calls and errors", "Trainer loss, KL, entropy", "Weight sync", "Per-worker tokens/s"})
        EXPECT_TRUE(titles.count(want)) << "missing panel " << want;
    // The template variable reads a series every process exports.
    EXPECT_NE(dash.dump().find("label_values(stride_process_cpu_seconds_total, job)"), std::string::npos);
}

TEST(MetricsDashboard, EveryMetricsJsonlKeyHasAGaugeTwin) {
    const std::set<std::string> exported = queryable_names();
    for (const std::string& key : trainer_jsonl_keys())
        EXPECT_TRUE(exported.count(trainer_gauge_name(key))) << key;
    EXPECT_EQ(trainer_gauge_name("reward/mean"), "stride_trainer_reward_mean");
    EXPECT_EQ(trainer_gauge_name("time/step_s"), "stride_trainer_time_step_seconds");
    EXPECT_EQ(trainer_gauge_name("tokens_per_s"), "stride_trainer_tokens_per_second");
    // The README's metrics.jsonl paragraph and this list agree.
    const std::string readme = slurp(std::string(STRIDE_SOURCE_DIR) + "/README.md");
    for (const std::string& key : trainer_jsonl_keys()) EXPECT_NE(readme.find(key), std::string::npos) << key;
}

TEST(MetricsDashboard, ReadmeListsEveryExportedFamily) {
    const std::string readme = slurp(std::string(STRIDE_SOURCE_DIR) + "/README.md");
    for (const std::string& name : all_role_metrics().metric_names()) {
        if (name.rfind("stride_trainer_", 0) == 0 &&
            readme.find("stride_trainer_<key>") != std::string::npos) {
            bool jsonl_twin = false;
            for (const std::string& k : trainer_jsonl_keys()) jsonl_twin |= trainer_gauge_name(k) == name;
            if (jsonl_twin) continue;  // documented by the mapping rule
        }
        EXPECT_NE(readme.find(name), std::string::npos)
            << name << " is not in README.md's Monitoring section";
    }
}

TEST(MetricsDashboard, PrometheusConfigIsValid) {
    if (std::system("command -v promtool >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "promtool not installed (apt-get install prometheus; make test does)";
    const std::string cfg = std::string(STRIDE_SOURCE_DIR) + "/ops/prometheus/prometheus.yml";
    EXPECT_EQ(std::system(("promtool check config " + cfg + " >/dev/null").c_str()), 0);
    const auto targets = nlohmann::json::parse(
        slurp(std::string(STRIDE_SOURCE_DIR) + "/ops/prometheus/targets/example-job.json"), nullptr, false);
    ASSERT_TRUE(targets.is_array());
    for (const auto& group : targets) EXPECT_TRUE(group.contains("targets") && group["targets"].is_array());
}
