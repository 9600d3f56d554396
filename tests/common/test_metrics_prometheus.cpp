// End to end on loopback: `stride run` with metrics.port set serves /metrics from every process,
// `promtool check metrics` accepts each process's output, and a real Prometheus server scraping a
// running job every second sees the key series with sane values. Needs the Debian package
// `prometheus` (promtool, prometheus; `make test` installs it); skipped with a message without it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/common/metrics_test_util.h"

using namespace stride::test;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// promtool check metrics reads the exposition on stdin; returns its exit status, output in *out.
int promtool_check(const std::string& text, const std::string& dir, std::string* out) {
    const std::string in = dir + "/scrape.txt", log = dir + "/promtool.txt";
    std::ofstream(in) << text;
    const int rc = std::system(("promtool check metrics < " + in + " > " + log + " 2>&1").c_str());
    *out = read_file(log);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The value of an instant query's first result, or NaN when there is none.
double query(int prom_port, const std::string& promql) {
    httplib::Client c("127.0.0.1", prom_port);
    c.set_read_timeout(5);
    auto res = c.Get(("/api/v1/query?query=" + httplib::detail::encode_query_param(promql)).c_str());
    if (!res || res->status != 200) return std::nan("");
    const auto j = nlohmann::json::parse(res->body, nullptr, false);
    if (j.is_discarded() || j.value("status", "") != "success") return std::nan("");
    const auto& r = j["data"]["result"];
    if (!r.is_array() || r.empty()) return std::nan("");
    return std::stod(r[0]["value"][1].get<std::string>());
}

// Polls `cond` every 200 ms until it holds or `limit` passes.
template <class F>
bool eventually(std::chrono::seconds limit, F cond) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
}

}  // namespace

TEST(MetricsEndToEnd, EveryProcessServesMetricsThatPromtoolAccepts) {
    if (!have_program("promtool"))
        GTEST_SKIP() << "promtool not installed (apt-get install prometheus; make test does)";
    const std::string dir = make_temp_dir("promtool");
    const int base = free_port_range(6);
    ASSERT_GT(base, 0) << "no 6 free consecutive loopback ports";
    Child job({STRIDE_BIN, "run", write_long_job(dir, base), "launcher=processes"}, dir + "/job.log");

    // One endpoint per process: the `stride run` process, buffer, trainer, rollout-0, rollout-1.
    const std::vector<std::pair<std::string, int>> endpoints = {{"job", base},
                                                                {"buffer", base + 1},
                                                                {"trainer", base + 2},
                                                                {"rollout-0", base + 4},
                                                                {"rollout-1", base + 5}};
    // Wait until the trainer has done a step, so that every role has something to report.
    ASSERT_TRUE(eventually(std::chrono::seconds(90), [&] {
        if (!job.running()) return true;  // failed: the assertion below shows why
        return http_get(base + 2, "/metrics").find("stride_trainer_step{") != std::string::npos &&
               http_get(base + 2, "/metrics").find("stride_trainer_steps_total{") != std::string::npos;
    })) << read_file(dir + "/job.log");
    ASSERT_TRUE(job.running()) << read_file(dir + "/job.log");
    for (const auto& [name, port] : endpoints) {
        SCOPED_TRACE(name);
        const std::string text = http_get(port, "/metrics");
        ASSERT_FALSE(text.empty()) << "no /metrics on port " << port << "\n" << read_file(dir + "/job.log");
        EXPECT_NE(text.find("stride_process_cpu_seconds_total{"), std::string::npos);
        std::string lint;
        EXPECT_EQ(promtool_check(text, dir, &lint), 0) << lint << "\n" << text;
    }
    EXPECT_NE(http_get(base + 1, "/metrics").find("stride_buffer_puts_total{"), std::string::npos);
    EXPECT_NE(http_get(base + 4, "/metrics").find("stride_rollout_tokens_generated_total{"),
              std::string::npos);
    EXPECT_EQ(job.stop(), 130);  // SIGINT: a clean stop
    // `stride run` announced every process's endpoint.
    const std::string log = read_file(dir + "/job.log");
    for (const auto& [name, port] : endpoints)
        EXPECT_NE(log.find("metrics: http://127.0.0.1:" + std::to_string(port) + "/metrics\n"),
                  std::string::npos)
            << name << "\n"
            << log;
    fs::remove_all(dir);
}

TEST(MetricsEndToEnd, RealPrometheusScrapesARunningJob) {
    if (!have_program("prometheus"))
        GTEST_SKIP() << "prometheus not installed (apt-get install prometheus; make test does)";
    const std::string dir = make_temp_dir("prometheus");
    const int ports = free_port_range(2);
    ASSERT_GT(ports, 0);
    const int metrics_port = ports, prom_port = ports + 1;
    {
        // honor_labels: our series carry their own `job` label (the Stride job), which must win over
        // the scrape job's name.
        std::ofstream cfg(dir + "/prometheus.yml");
        cfg << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            << "scrape_configs:\n"
            << "  - job_name: stride\n    honor_labels: true\n"
            << "    static_configs: [{targets: ['127.0.0.1:" << metrics_port << "']}]\n";
    }
    Child prom(
        {"prometheus", "--config.file=" + dir + "/prometheus.yml", "--storage.tsdb.path=" + dir + "/tsdb",
         "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)},
        dir + "/prometheus.log");
    ASSERT_TRUE(eventually(std::chrono::seconds(60), [&] {
        return !http_get(prom_port, "/-/ready").empty();
    })) << read_file(dir + "/prometheus.log");

    Child job({STRIDE_BIN, "run", write_long_job(dir, metrics_port)}, dir + "/job.log");
    ASSERT_TRUE(eventually(std::chrono::seconds(90), [&] {
        return !job.running() || query(prom_port, "stride_trainer_policy_version") >= 3;
    }));
    ASSERT_TRUE(job.running()) << read_file(dir + "/job.log");
    ASSERT_GE(query(prom_port, "stride_trainer_policy_version"), 3) << read_file(dir + "/prometheus.log");

    EXPECT_EQ(query(prom_port, "up{instance=\"127.0.0.1:" + std::to_string(metrics_port) + "\"}"), 1);
    // A fresh run publishes version v after step v: both gauges come from the same scrape.
    EXPECT_EQ(query(prom_port, "stride_trainer_policy_version - stride_trainer_step"), 0);
    EXPECT_EQ(
        query(prom_port, "count(stride_trainer_policy_version{job=\"prom\",role=\"trainer\",worker=\"0\"})"),
        1);
    // The tokens counter grows while the job runs.
    const double tokens = query(prom_port, "sum(stride_rollout_tokens_generated_total)");
    EXPECT_GT(tokens, 0);
    EXPECT_TRUE(eventually(std::chrono::seconds(30), [&] {
        return query(prom_port, "sum(stride_rollout_tokens_generated_total)") > tokens;
    }));
    EXPECT_EQ(query(prom_port, "count(stride_rollout_tokens_generated_total)"), 2);  // one series per worker
    EXPECT_GE(query(prom_port, "stride_buffer_commits_total"), 3);
    EXPECT_GE(query(prom_port, "stride_trainer_step_seconds_count"), 3);
    EXPECT_GE(query(prom_port, "sum(stride_reward_calls_total)"), 12);
    EXPECT_EQ(query(prom_port, "sum(stride_reward_errors_total)"), 0);
    EXPECT_GT(query(prom_port, "stride_process_resident_memory_bytes"), 1e6);
    EXPECT_GE(query(prom_port, "stride_trainer_reward_mean"), 0);
    EXPECT_LE(query(prom_port, "stride_trainer_reward_mean"), 1);
    EXPECT_EQ(
        query(prom_port,
              "stride_trainer_staleness_bucket{le=\"+Inf\"} - ignoring(le) stride_trainer_staleness_count"),
        0);
    EXPECT_GT(query(prom_port, "sum(stride_weight_sync_bytes_total{role=\"rollout\"})"), 0);
    EXPECT_EQ(job.stop(), 130);
    prom.stop();
    fs::remove_all(dir);
}
