// `stride report RUN_DIR [RUN_DIR...] [--out FILE]`: one self-contained HTML page of a run's curves (or
// several runs overlaid), its time split, summary and config. `stride plot RUN_DIR KEY...`: the same
// curves as text charts in the terminal.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/cli/parser.h"
#include "scheduler/cli_commands.h"
#include "scheduler/report_page.h"
#include "scheduler/run_report.h"
#include "scheduler/text_chart.h"

namespace stride::cli {

namespace {

const char* kReportUsage =
    "usage: stride report RUN_DIR [RUN_DIR...] [--out FILE]\n"
    "  one self-contained HTML page (inline SVG) of the runs' metrics.jsonl curves, overlaid, with the\n"
    "  busy share of each role, run_summary.json and config.yaml; --out defaults to RUN_DIR/report.html\n";

const char* kPlotUsage =
    "usage: stride plot RUN_DIR KEY... [--width W] [--height H]\n"
    "  a text chart per metrics.jsonl key (e.g. reward/mean eval/accuracy); a key found only in\n"
    "  sft_metrics.jsonl is read there; sft/KEY reads sft_metrics.jsonl explicitly\n";

// The rows and x key that hold `key`: metrics.jsonl first, then sft_metrics.jsonl ("sft/" forces it).
chart::Series plot_series(const RunData& run, const std::string& key) {
    if (key.rfind("sft/", 0) == 0) {
        chart::Series s = series_of(run.sft, key.substr(4), "sft_step");
        s.label = key;
        return s;
    }
    if (has_key(run.steps, key) || !has_key(run.sft, key)) return series_of(run.steps, key, "step");
    chart::Series s = series_of(run.sft, key, "sft_step");
    s.label = "sft/" + key;
    return s;
}

}  // namespace

int report(int argc, char** argv) {
    if (argc == 0) return std::fputs(kReportUsage, stderr), 2;
    std::vector<std::string> dirs;
    std::string out_flag;
    Parser p("stride report RUN_DIR [RUN_DIR...] [--out FILE]", kReportUsage + std::strlen("usage: "));
    p.positionals("RUN_DIR", dirs, "run directories (several: overlaid)", 1)
        .flag("out", out_flag, "HTML file to write (default: RUN_DIR/report.html)");
    if (!p.parse(argc, argv)) return 0;
    std::vector<RunData> runs;
    for (const auto& dir : dirs) runs.push_back(load_run(dir));
    const std::string out = out_flag.empty() ? dirs[0] + "/report.html" : out_flag;
    std::ofstream f(out);
    STRIDE_CHECK(f, out + ": cannot open for writing");
    f << render_report_html(runs);
    f.close();
    STRIDE_CHECK(f, out + ": write failed");
    std::fprintf(stderr, "wrote %s (%zu run%s)\n", out.c_str(), runs.size(), runs.size() > 1 ? "s" : "");
    return 0;
}

int plot(int argc, char** argv) {
    if (argc == 0) return std::fputs(kPlotUsage, stderr), 2;
    std::vector<std::string> args;
    int width = 60, height = 12;
    Parser p("stride plot RUN_DIR KEY... [--width W] [--height H]", kPlotUsage + std::strlen("usage: "));
    p.positionals("RUN_DIR_KEY", args, "a run directory, then metrics.jsonl keys (RUN_DIR KEY...)", 2)
        .flag("width", width, "chart width (columns, 1-1000)")
        .flag("height", height, "chart height (rows, 1-1000)");
    if (!p.parse(argc, argv)) return 0;
    STRIDE_CHECK(width > 0 && width <= 1000,
                 "--width expects a positive integer, got '" + std::to_string(width) + "'");
    STRIDE_CHECK(height > 0 && height <= 1000,
                 "--height expects a positive integer, got '" + std::to_string(height) + "'");
    RunData run = load_run(args[0]);
    int rc = 0, printed = 0;
    for (size_t i = 1; i < args.size(); ++i) {
        chart::Series s = plot_series(run, args[i]);
        if (s.x.empty()) {
            std::fprintf(stderr, "stride plot: no values of '%s' in %s/metrics.jsonl or sft_metrics.jsonl\n",
                         args[i].c_str(), run.dir.c_str());
            rc = 1;
            continue;
        }
        if (printed++) std::fputs("\n", stdout);
        std::fputs(chart::render_text_chart(s, width, height).c_str(), stdout);
    }
    return rc;
}

}  // namespace stride::cli
