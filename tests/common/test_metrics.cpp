// The metrics registry (on prometheus-cpp) and its text exposition: escaping, number rendering,
// histogram buckets, registration rules and exact sums under concurrent increments.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <thread>
#include <vector>

#include "common/base/error.h"
#include "common/metrics.h"

using namespace stride;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l)) out.push_back(l);
    return out;
}

bool has_line(const std::string& text, const std::string& line) {
    for (const auto& l : lines_of(text))
        if (l == line) return true;
    return false;
}

}  // namespace

// The pieces of the text format that are easy to get wrong — escaping, number rendering, names —
// checked on what the registry renders (prometheus-cpp's TextSerializer).
TEST(MetricsText, EscapesLabelValuesAndHelp) {
    MetricsRegistry r;
    r.gauge("stride_test_a", "x \\ y\nz \"q\"", {"a", "b"}).with({"1", "q\""}).set(1);
    r.gauge("stride_test_b", "b", {}).with({}).set(2);
    r.histogram("stride_test_c", "c", {}, {1}).with({}).observe(0.5);
    const std::string text = r.render();
    EXPECT_TRUE(has_line(text, R"(# HELP stride_test_a x \\ y\nz "q")")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_a{a="1",b="q\""} 1)")) << text;
    EXPECT_TRUE(has_line(text, "stride_test_b 2")) << text;  // no labels: no braces
    EXPECT_TRUE(has_line(text, R"(stride_test_c_bucket{le="+Inf"} 1)")) << text;
}

TEST(MetricsText, RendersSpecialAndOrdinaryNumbers) {
    MetricsRegistry r;
    GaugeFamily& f = r.gauge("stride_test_n", "n", {"v"});
    f.with({"nan"}).set(std::numeric_limits<double>::quiet_NaN());
    f.with({"inf"}).set(std::numeric_limits<double>::infinity());
    f.with({"-inf"}).set(-std::numeric_limits<double>::infinity());
    f.with({"42"}).set(42);
    f.with({"0.25"}).set(0.25);
    f.with({"-1.5e-9"}).set(-1.5e-9);
    f.with({"0.1"}).set(0.1);
    const std::string text = r.render();
    // prometheus-cpp 1.0.1 spells NaN "Nan"; Prometheus and promtool read either spelling.
    EXPECT_TRUE(has_line(text, R"(stride_test_n{v="nan"} Nan)")) << text;
    EXPECT_TRUE(std::isnan(std::stod("Nan")));
    EXPECT_TRUE(has_line(text, R"(stride_test_n{v="inf"} +Inf)")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_n{v="-inf"} -Inf)")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_n{v="42"} 42)")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_n{v="0.25"} 0.25)")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_n{v="-1.5e-9"} -1.5e-09)")) << text;
    const std::string tenth = R"(stride_test_n{v="0.1"} )";
    const size_t at = text.find(tenth);
    ASSERT_NE(at, std::string::npos) << text;
    EXPECT_EQ(std::stod(text.substr(at + tenth.size())), 0.1);  // round trip
}

TEST(MetricsText, NamesAndSanitizing) {
    MetricsRegistry r;
    EXPECT_NO_THROW(r.gauge("stride_x:y_1", "ok", {}));
    EXPECT_THROW(r.gauge("1x", "bad", {}), Error);
    EXPECT_THROW(r.gauge("a-b", "bad", {}), Error);
    EXPECT_THROW(r.gauge("stride_test_l", "bad label", {"a:b"}), Error);
    EXPECT_EQ(sanitize_metric_name("reward/mean"), "reward_mean");
    EXPECT_EQ(sanitize_metric_name("time/step_s"), "time_step_s");
}

TEST(MetricsRegistry, ExposesCountersGaugesWithHelpTypeAndEscapedLabels) {
    MetricsRegistry r;
    r.counter("stride_test_requests", "Requests \\ served\nso far", {"job", "role", "worker"})
        .with({"j\"1", "ro\\le", "line\nbreak"})
        .inc(3);
    Gauge& g = r.gauge("stride_test_level", "A level", {"job"}).with({"j"});
    g.set(std::numeric_limits<double>::quiet_NaN());
    r.gauge("stride_test_up", "Inf gauge", {}).with({}).set(-std::numeric_limits<double>::infinity());
    const std::string text = r.render();
    EXPECT_TRUE(has_line(text, R"(# HELP stride_test_requests_total Requests \\ served\nso far)")) << text;
    EXPECT_TRUE(has_line(text, "# TYPE stride_test_requests_total counter")) << text;
    EXPECT_TRUE(
        has_line(text, R"(stride_test_requests_total{job="j\"1",role="ro\\le",worker="line\nbreak"} 3)"))
        << text;
    EXPECT_TRUE(has_line(text, "# TYPE stride_test_level gauge")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_level{job="j"} Nan)")) << text;  // prometheus-cpp's NaN
    EXPECT_TRUE(has_line(text, "stride_test_up -Inf")) << text;
    // Families come out sorted by exposed name, each HELP line right before its TYPE line.
    const auto ls = lines_of(text);
    std::vector<std::string> types;
    for (size_t i = 0; i < ls.size(); ++i)
        if (ls[i].rfind("# TYPE ", 0) == 0) {
            ASSERT_GT(i, 0u);
            EXPECT_EQ(ls[i - 1].rfind("# HELP ", 0), 0u);
            types.push_back(ls[i]);
        }
    EXPECT_TRUE(std::is_sorted(types.begin(), types.end()));
    EXPECT_EQ(r.metric_names(), (std::vector<std::string>{"stride_test_level", "stride_test_requests_total",
                                                          "stride_test_up"}));
}

TEST(MetricsRegistry, HistogramBucketsAreCumulativeAndInfEqualsCount) {
    MetricsRegistry r;
    Histogram& h = r.histogram("stride_test_latency_seconds", "Latency", {"role"}, {0.1, 0.5, 1}).with({"x"});
    for (double x : {0.05, 0.1, 0.2, 0.7, 3.0, 100.0, std::numeric_limits<double>::infinity()}) h.observe(x);
    const Histogram::Snapshot s = h.snapshot();
    EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{2, 3, 4, 7}));  // le is inclusive: 0.1 falls in le=0.1
    EXPECT_EQ(s.count, 7u);
    const std::string text = r.render();
    EXPECT_TRUE(has_line(text, "# TYPE stride_test_latency_seconds histogram")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_latency_seconds_bucket{role="x",le="0.1"} 2)")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_latency_seconds_bucket{role="x",le="1"} 4)")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_latency_seconds_bucket{role="x",le="+Inf"} 7)")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_latency_seconds_sum{role="x"} +Inf)")) << text;
    EXPECT_TRUE(has_line(text, R"(stride_test_latency_seconds_count{role="x"} 7)")) << text;
}

TEST(MetricsRegistry, HistogramStaysMonotonicUnderConcurrentObservations) {
    MetricsRegistry r;
    Histogram& h = r.histogram("stride_test_h", "h", {}, exponential_buckets(1, 2, 8)).with({});
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&, t] {
            for (int i = 0; !stop; ++i) h.observe((i * 7 + t) % 300);
        });
    for (int k = 0; k < 200; ++k) {
        const auto s = h.snapshot();
        for (size_t i = 1; i < s.cumulative.size(); ++i) ASSERT_LE(s.cumulative[i - 1], s.cumulative[i]);
        ASSERT_EQ(s.cumulative.back(), s.count);
    }
    stop = true;
    for (auto& t : ts) t.join();
}

TEST(MetricsRegistry, ConcurrentIncrementsSumExactly) {
    MetricsRegistry r;
    CounterFamily& f = r.counter("stride_test_events", "events", {"worker"});
    Counter& shared = f.with({"all"});
    constexpr int kThreads = 24, kPerThread = 100000;  // more threads than cores: the CAS loops contend
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t)
        ts.emplace_back([&, t] {
            Counter& mine = f.with({std::to_string(t % 3)});  // with() from many threads at once
            for (int i = 0; i < kPerThread; ++i) {
                shared.inc();
                mine.inc(2);
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(shared.value(), double(kThreads) * kPerThread);
    double per_worker = 0;
    for (int w = 0; w < 3; ++w) per_worker += f.with({std::to_string(w)}).value();
    EXPECT_EQ(per_worker, 2.0 * kThreads * kPerThread);
}

TEST(MetricsRegistry, FractionalCounterAndGaugeAdd) {
    MetricsRegistry r;
    Counter& c = r.counter("stride_test_seconds", "s", {}).with({});
    c.inc(2);
    c.add(0.5);
    c.add(-7);  // ignored: counters never decrease
    EXPECT_DOUBLE_EQ(c.value(), 2.5);
    Gauge& g = r.gauge("stride_test_g", "g", {}).with({});
    g.set(1);
    g.add(-3);
    EXPECT_DOUBLE_EQ(g.value(), -2);
}

TEST(MetricsRegistry, RegistrationRules) {
    MetricsRegistry r;
    CounterFamily& a = r.counter("stride_test_x", "x", {"job"});
    EXPECT_EQ(&a, &r.counter("stride_test_x", "x again", {"job"}));  // same family back
    EXPECT_THROW(r.counter("stride_test_x", "x", {"role"}), Error);  // other labels
    EXPECT_THROW(r.gauge("stride_test_x", "x", {"job"}), Error);     // other type
    EXPECT_THROW(r.counter("stride_test_y_total", "y", {}), Error);  // _total is added on exposition
    EXPECT_THROW(r.gauge("bad-name", "b", {}), Error);
    EXPECT_THROW(r.gauge("stride_test_z", "z", {"le"}), Error);
    EXPECT_THROW(a.with({"1", "2"}), Error);  // wrong number of label values
    EXPECT_THROW(r.histogram("stride_test_h", "h", {}, {2, 1}).with({}), Error);
}

TEST(MetricsRegistry, CollectHooksRunBeforeRender) {
    MetricsRegistry r;
    Gauge& g = r.gauge("stride_test_hooked", "h", {}).with({});
    int calls = 0;
    r.add_collect_hook([&] { g.set(++calls); });
    EXPECT_NE(r.render().find("stride_test_hooked 1\n"), std::string::npos);
    EXPECT_NE(r.render().find("stride_test_hooked 2\n"), std::string::npos);
}
