// `stride report` and `stride plot`: the chart math (ranges with NaN skipped, scales, nice ticks), the
// SVG and text charts, and the commands end to end on a fake run directory (and, where chromium is
// installed, the page rendered headless to a PNG).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "scheduler/chart_math.h"
#include "scheduler/report_page.h"
#include "scheduler/run_report.h"
#include "scheduler/svg_chart.h"
#include "scheduler/text_chart.h"

using namespace stride;
using namespace stride::chart;
namespace fs = std::filesystem;

namespace {

const double kNaN = std::nan("");

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int count(const std::string& s, const std::string& what) {
    int n = 0;
    for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
    return n;
}

fs::path test_dir(const std::string& name) {
    fs::path d = fs::path(STRIDE_BINARY_DIR) / "tests" / "report_test" / name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

// A run directory as `stride run` leaves it: `steps` trainer steps, eval every 5, one NaN loss (written
// as null by nlohmann), no grad_norm at all, an SFT phase, run_summary.json and config.yaml.
fs::path fake_run(const fs::path& dir, int steps, double reward_offset) {
    fs::create_directories(dir);
    std::ofstream m(dir / "metrics.jsonl");
    for (int s = 1; s <= steps; ++s) {
        nlohmann::json j = {{"step", s},
                            {"reward/mean", reward_offset + 0.3 + 0.02 * s},
                            {"accuracy", 0.25 + 0.02 * s},
                            {"response_length/mean", 12.0 + std::sin(s)},
                            {"response_length/max", 40.0 + s},
                            {"entropy", 0.8 - 0.01 * s},
                            {"approx_kl", 0.001 * s},
                            {"clip_frac/low", 0.01},
                            {"clip_frac/high", 0.02 + 0.001 * s},
                            {"staleness/mean", 0.5},
                            {"staleness/max", 1.0},
                            {"tokens_per_s", 900.0 + 10 * s},
                            {"time/step_s", 1.5},
                            {"time/wait_s", 0.2},
                            {"loss", s == 7 ? kNaN : 0.1 / s}};
        if (s == 1 || s % 5 == 0) j["eval/accuracy"] = 0.3 + 0.01 * s;
        m << j.dump() << "\n";
    }
    std::ofstream sft(dir / "sft_metrics.jsonl");
    for (int s = 1; s <= 10; ++s) sft << nlohmann::json{{"sft_step", s}, {"loss", 3.0 / s}}.dump() << "\n";
    std::ofstream(dir / "run_summary.json")
        << nlohmann::json{{"wall_s", 50.0},         {"trainer_busy_s", 34.0}, {"rollout_busy_s", 20.0},
                          {"rollout_idle_s", 25.0}, {"rollout_workers", 2},   {"groups_put", 61}}
               .dump();
    std::ofstream(dir / "config.yaml") << "name: fake  # job name\ntrainer:\n  lr: 1e-4  # <lr>\n";
    return dir;
}

int run_stride(const std::string& args, const fs::path& out_prefix) {
    const std::string cmd = std::string("'") + STRIDE_BIN + "' " + args + " > '" + out_prefix.string() +
                            ".out' 2> '" + out_prefix.string() + ".err'";
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The number of points of every <polyline> in the page.
std::vector<int> polyline_sizes(const std::string& html) {
    std::vector<int> sizes;
    std::regex re("<polyline[^>]* points=\"([^\"]*)\"");
    for (auto it = std::sregex_iterator(html.begin(), html.end(), re); it != std::sregex_iterator(); ++it) {
        const std::string pts = (*it)[1];
        sizes.push_back(pts.empty() ? 0 : count(pts, " ") + 1);
    }
    return sizes;
}

}  // namespace

TEST(ChartMath, NiceTicksAreRoundAndCoverTheRange) {
    EXPECT_EQ(nice_ticks(0, 1, 6), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
    EXPECT_DOUBLE_EQ(nice_step(0, 1000, 6), 200);
    EXPECT_DOUBLE_EQ(nice_step(0.13, 0.87, 5), 0.2);
    auto t = nice_ticks(0.13, 0.87, 5);
    ASSERT_EQ(t.size(), 4u);
    EXPECT_NEAR(t.front(), 0.2, 1e-12);
    EXPECT_NEAR(t.back(), 0.8, 1e-12);
    auto neg = nice_ticks(-3.2, 7.9, 8);
    EXPECT_DOUBLE_EQ(nice_step(-3.2, 7.9, 8), 2);
    EXPECT_EQ(neg, (std::vector<double>{-2, 0, 2, 4, 6}));
    for (double lo : {1e-7, 3.0, 12345.0}) {
        const auto ticks = nice_ticks(lo, lo * 1.5, 6);
        EXPECT_GE(ticks.size(), 2u) << lo;
        EXPECT_LE(ticks.size(), 6u) << lo;
        EXPECT_GE(ticks.front(), lo * (1 - 1e-9));
        EXPECT_LE(ticks.back(), lo * 1.5 * (1 + 1e-9));
    }
    EXPECT_DOUBLE_EQ(nice_step(1, 2, 8, 1), 1);  // an axis of steps has no tick at step 1.2
    EXPECT_EQ(nice_ticks(0.9, 2.1, 8, 1), (std::vector<double>{1, 2}));
    EXPECT_THROW(nice_step(1, 1, 5), std::exception);
}

TEST(ChartMath, TickLabelsHaveTheDecimalsTheStepNeeds) {
    EXPECT_EQ(format_tick(0.4, 0.2), "0.4");
    EXPECT_EQ(format_tick(1000, 200), "1000");
    EXPECT_EQ(format_tick(0.05, 0.05), "0.05");
    EXPECT_EQ(format_tick(0, 0.05), "0.00");
    EXPECT_EQ(format_tick(2e-5, 1e-5), "2e-05");
    EXPECT_EQ(format_value(0.123456), "0.1235");
    EXPECT_EQ(format_value(123456.7), "123457");
    EXPECT_EQ(format_value(kNaN), "-");
}

TEST(ChartMath, ScaleMapsTheDomainOntoTheRange) {
    Scale y{0, 10, 100, 0};  // a y axis: up is smaller
    EXPECT_DOUBLE_EQ(y(0), 100);
    EXPECT_DOUBLE_EQ(y(10), 0);
    EXPECT_DOUBLE_EQ(y(2.5), 75);
    EXPECT_DOUBLE_EQ((Scale{3, 3, 0, 50})(3), 25);  // a flat domain maps to the middle
}

TEST(ChartMath, RangesSkipNaNAndInfinities) {
    Series a{"a", {1, 2, 3, 4}, {0.5, kNaN, -2, INFINITY}};
    Series b{"b", {kNaN, 10}, {100, 1}};
    Range x = x_range({a, b}), y = y_range({a, b});
    EXPECT_FALSE(x.empty);
    EXPECT_DOUBLE_EQ(x.lo, 1);
    EXPECT_DOUBLE_EQ(x.hi, 10);
    EXPECT_DOUBLE_EQ(y.lo, -2);
    EXPECT_DOUBLE_EQ(y.hi, 1);  // b's 100 sits at x = NaN: no point
    EXPECT_EQ(finite_points(a).x, (std::vector<double>{1, 3}));
    EXPECT_TRUE(y_range({Series{"c", {1}, {kNaN}}}).empty);
    Range p = padded(Range{2, 2, false});
    EXPECT_DOUBLE_EQ(p.lo, 1.8);
    EXPECT_DOUBLE_EQ(p.hi, 2.2);
    for (Range flat : {Range{}, Range{0, 0, false}}) {  // nothing, or all zeros (a clip fraction): [0, 1]
        p = padded(flat);
        EXPECT_DOUBLE_EQ(p.lo, 0);
        EXPECT_DOUBLE_EQ(p.hi, 1);
    }
}

TEST(RunReport, SeriesSkipsMissingNullAndNonNumbers) {
    std::vector<nlohmann::json> rows = {
        {{"step", 1}, {"k", 0.5}}, {{"step", 2}}, {{"step", 3}, {"k", nullptr}},
        {{"step", 4}, {"k", "x"}}, {{"k", 2.0}},  // no step: the row's position
    };
    Series s = series_of(rows, "k", "step");
    EXPECT_EQ(s.x, (std::vector<double>{1, 5}));
    EXPECT_EQ(s.y, (std::vector<double>{0.5, 2.0}));
    EXPECT_TRUE(has_key(rows, "k"));
    EXPECT_FALSE(has_key(rows, "absent"));
    EXPECT_EQ(numeric_keys(rows), (std::vector<std::string>{"k", "step"}));
}

TEST(SvgChart, DrawsFinitePointsTicksAndLegend) {
    LineChart c{"T <1>", "step", "y", {}};
    c.lines.push_back({Series{"first", {1, 2, 3, 4}, {0, kNaN, 1, 0.5}}, "#111", ""});
    c.lines.push_back({Series{"all-nan", {1, 2}, {kNaN, kNaN}}, "#222", "4 2"});
    const std::string svg = render_line_chart(c);
    EXPECT_EQ(count(svg, "<svg"), 1);
    EXPECT_NE(svg.find("T &lt;1&gt;"), std::string::npos);
    EXPECT_EQ(polyline_sizes(svg), std::vector<int>{3});
    EXPECT_NE(svg.find(">first</text>"), std::string::npos);
    EXPECT_EQ(svg.find("all-nan"), std::string::npos);      // nothing to draw: not in the legend either
    EXPECT_NE(svg.find(">0.0</text>"), std::string::npos);  // y ticks 0.0 .. 1.0
    EXPECT_NE(svg.find(">1.0</text>"), std::string::npos);
    EXPECT_EQ(svg.find("nan"), std::string::npos);
}

TEST(TextChart, PlotsWithinTheGridAndLabelsMinMax) {
    Series s{"reward/mean", {}, {}};
    for (int i = 1; i <= 30; ++i) {
        s.x.push_back(i);
        s.y.push_back(i == 10 ? kNaN : i * 0.1);
    }
    const std::string txt = render_text_chart(s, 40, 8);
    std::vector<std::string> lines;
    std::istringstream in(txt);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    ASSERT_EQ(lines.size(), 1u + 8u + 2u);
    EXPECT_EQ(lines[0], "reward/mean  (29 points, last 3)");
    EXPECT_EQ(lines[1].rfind("  3 |", 0), 0u) << lines[1];  // the max on the top row
    EXPECT_EQ(lines[8].rfind("0.1 |", 0), 0u) << lines[8];  // the min on the bottom row
    EXPECT_EQ(lines[1].back(), '*');
    EXPECT_EQ(lines[8][5], '*');
    EXPECT_EQ(lines[10].find("1"), 5u);
    EXPECT_EQ(render_text_chart(Series{"none", {1}, {kNaN}}), "none  (no values)\n");
}

TEST(ReportCli, WritesOneSvgPerChartWithPolylines) {
    const fs::path dir = fake_run(test_dir("one") / "run-a", 20, 0);
    const fs::path out = dir.parent_path() / "page.html";
    ASSERT_EQ(
        run_stride("report '" + dir.string() + "' --out '" + out.string() + "'", dir.parent_path() / "cmd"),
        0)
        << slurp(dir.parent_path() / "cmd.err");
    const std::string html = slurp(out);
    // Every chart with a key in the fake run, plus the time split; Gradient norm is skipped.
    const std::vector<std::string> titles = {
        "Reward and accuracy", "Eval accuracy", "Response length", "Entropy", "KL",      "Clip fractions",
        "Staleness",           "Throughput",    "Step time",       "Loss",    "SFT loss"};
    for (const auto& t : titles) EXPECT_NE(html.find(">" + t), std::string::npos) << t;
    EXPECT_EQ(count(html, "<svg"), static_cast<int>(titles.size()) + 1);
    const auto sizes = polyline_sizes(html);
    EXPECT_EQ(sizes.size(), 2u + 1 + 2 + 1 + 1 + 2 + 2 + 1 + 2 + 1 + 1);
    for (int n : sizes) EXPECT_GT(n, 0);
    EXPECT_NE(std::find(sizes.begin(), sizes.end(), 5), sizes.end());   // eval/accuracy: steps 1, 5, .. 20
    EXPECT_NE(std::find(sizes.begin(), sizes.end(), 19), sizes.end());  // loss: the NaN step skipped
    EXPECT_NE(html.find("Not in these runs' metrics: Gradient norm; SFT eval accuracy."), std::string::npos);
    EXPECT_NE(html.find(">68.0%</text>"), std::string::npos);  // trainer busy 34 of 50 s
    EXPECT_NE(html.find("# &lt;lr&gt;"), std::string::npos);   // config.yaml, escaped
    EXPECT_NE(html.find("groups_put"), std::string::npos);
    EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no fetch: the xmlns only
    EXPECT_EQ(html.find("<script"), std::string::npos);
}

TEST(ReportCli, OverlaysSeveralRunsWithALegendAndDefaultsOutIntoTheFirstRun) {
    const fs::path root = test_dir("two");
    const fs::path a = fake_run(root / "run-a", 20, 0), b = fake_run(root / "run-b", 12, 0.1);
    ASSERT_EQ(run_stride("report '" + a.string() + "' '" + b.string() + "'", root / "cmd"), 0)
        << slurp(root / "cmd.err");
    const std::string html = slurp(a / "report.html");
    EXPECT_NE(html.find(">run-a reward/mean</text>"), std::string::npos);
    EXPECT_NE(html.find(">run-b reward/mean</text>"), std::string::npos);
    EXPECT_NE(html.find("run-b: trainer busy"), std::string::npos);
    EXPECT_NE(html.find("<tr><th>trainer steps</th><td class=\"n\">20</td><td class=\"n\">12</td></tr>"),
              std::string::npos);
    EXPECT_EQ(polyline_sizes(html).size(), 2u * 16);
    EXPECT_NE(html.find("stroke-dasharray=\"6 3\""), std::string::npos);  // second key of a chart
}

// A processes-mode summary has no rollout counters: the time split leaves those bars out rather than
// drawing them as 0%.
TEST(ReportCli, TimeSplitLeavesOutSharesTheSummaryDoesNotRecord) {
    const fs::path root = test_dir("procsummary");
    const fs::path run = fake_run(root / "run", 10, 0);
    std::ofstream(run / "run_summary.json")
        << nlohmann::json{{"launcher", "processes"}, {"wall_s", 40.0}, {"trainer_busy_s", 30.0}}.dump();
    ASSERT_EQ(run_stride("report '" + run.string() + "'", root / "cmd"), 0) << slurp(root / "cmd.err");
    const std::string html = slurp(run / "report.html");
    EXPECT_NE(html.find("trainer busy"), std::string::npos);
    EXPECT_EQ(html.find("rollout busy"), std::string::npos);
    EXPECT_EQ(html.find("rollout idle"), std::string::npos);
}

// Processes mode: the rollout workers report their counters; the per-worker share divides by the
// workers that reported (one of two here: the other was killed), not by every worker.
TEST(ReportCli, TimeSplitOfAProcessesRunDividesByTheWorkersThatReported) {
    const fs::path root = test_dir("procrollout");
    const fs::path run = fake_run(root / "run", 10, 0);
    std::ofstream(run / "run_summary.json") << nlohmann::json{
        {"launcher", "processes"},       {"wall_s", 40.0},
        {"trainer_busy_s", 30.0},        {"rollout_workers", 2},
        {"rollout_workers_reported", 1}, {"rollout_busy_s", 20.0},
        {"rollout_idle_s", 10.0}}.dump();
    ASSERT_EQ(run_stride("report '" + run.string() + "'", root / "cmd"), 0) << slurp(root / "cmd.err");
    const std::string html = slurp(run / "report.html");
    const size_t busy = html.find(">rollout busy (per worker)</text>"),
                 idle = html.find(">rollout idle (per worker)</text>");
    ASSERT_NE(busy, std::string::npos) << html;
    ASSERT_NE(idle, std::string::npos) << html;
    EXPECT_NE(html.find(">50.0%</text>", busy), std::string::npos);  // 20 s of 40 s, one worker
    EXPECT_NE(html.find(">25.0%</text>", idle), std::string::npos);
}

TEST(ReportCli, AnEmptyOrMissingMetricsFileIsAnErrorNamingIt) {
    const fs::path root = test_dir("bad");
    fs::create_directories(root / "empty");
    std::ofstream(root / "empty" / "metrics.jsonl") << "\n";
    EXPECT_EQ(run_stride("report '" + (root / "empty").string() + "'", root / "e"), 1);
    EXPECT_NE(slurp(root / "e.err").find((root / "empty" / "metrics.jsonl").string() + ": empty"),
              std::string::npos)
        << slurp(root / "e.err");
    EXPECT_EQ(run_stride("report '" + (root / "nowhere").string() + "'", root / "m"), 1);
    EXPECT_NE(slurp(root / "m.err").find((root / "nowhere" / "metrics.jsonl").string() + ": no such file"),
              std::string::npos)
        << slurp(root / "m.err");
    fs::create_directories(root / "garbled");
    std::ofstream(root / "garbled" / "metrics.jsonl") << "{\"step\": 1}\n{oops\n";
    EXPECT_EQ(run_stride("plot '" + (root / "garbled").string() + "' step", root / "g"), 1);
    EXPECT_NE(slurp(root / "g.err").find("metrics.jsonl:2: not a JSON object"), std::string::npos);
    EXPECT_EQ(run_stride("report", root / "u"), 2);
    EXPECT_NE(slurp(root / "u.err").find("usage: stride report"), std::string::npos);
}

TEST(ReportCli, PlotPrintsATextChartPerKey) {
    const fs::path dir = fake_run(test_dir("plot") / "run", 20, 0);
    ASSERT_EQ(run_stride("plot '" + dir.string() + "' reward/mean eval/accuracy sft/loss", dir / "p"), 0)
        << slurp(dir / "p.err");
    const std::string out = slurp(dir / "p.out");
    EXPECT_NE(out.find("reward/mean  (20 points, last 0.7)"), std::string::npos) << out;
    EXPECT_NE(out.find("eval/accuracy  (5 points, last 0.5)"), std::string::npos) << out;
    EXPECT_NE(out.find("loss  (10 points, last 0.3)"), std::string::npos) << out;
    EXPECT_EQ(count(out, "\n"), 3 * (1 + 12 + 2) + 2);
    EXPECT_EQ(run_stride("plot '" + dir.string() + "' entropy no/such --width 30 --height 5", dir / "q"), 1);
    EXPECT_NE(slurp(dir / "q.err").find("no values of 'no/such'"), std::string::npos);
    EXPECT_EQ(count(slurp(dir / "q.out"), "\n"), 1 + 5 + 2);
}

TEST(ReportCli, ChromiumRendersThePage) {
    if (std::system("command -v chromium > /dev/null 2>&1") != 0)
        GTEST_SKIP() << "chromium is not installed (ops/install_deps.sh installs it)";
    const fs::path root = test_dir("chromium");
    const fs::path a = fake_run(root / "run-a", 20, 0), b = fake_run(root / "run-b", 20, 0.1);
    const fs::path html = root / "report.html", png = root / "report.png";
    ASSERT_EQ(run_stride("report '" + a.string() + "' '" + b.string() + "' --out '" + html.string() + "'",
                         root / "r"),
              0);
    const std::string cmd =
        "timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
        "--user-data-dir='" +
        (root / "profile").string() + "' --screenshot='" + png.string() +
        "' --window-size=1200,2000 'file://" + html.string() + "' > '" + (root / "chromium.log").string() +
        "' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << slurp(root / "chromium.log");
    ASSERT_TRUE(fs::exists(png)) << slurp(root / "chromium.log");
    const std::string bytes = slurp(png);
    EXPECT_EQ(bytes.substr(1, 3), "PNG");
    EXPECT_GT(bytes.size(), 60u * 1024) << "a blank 1200x2000 page compresses to a few KB";
    EXPECT_GT(std::set<char>(bytes.begin(), bytes.end()).size(), 200u);
}
