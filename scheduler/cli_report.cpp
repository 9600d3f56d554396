// `stride report RUN_DIR [RUN_DIR...] [--out FILE]`: one self-contained HTML page of a run's curves (or
// several runs overlaid), its time split, summary and config. `stride plot RUN_DIR KEY...`: the same
// curves as text charts in the terminal.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/base/error.h"
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

struct Parsed {
    std::vector<std::string> positional;
    std::string out;
    int width = 60, height = 12;
};

int positive_int(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    long x = std::strtol(v.c_str(), &end, 10);
    STRIDE_CHECK(!v.empty() && *end == '\0' && x > 0 && x <= 1000,
                 flag + " expects a positive integer, got '" + v + "'");
    return static_cast<int>(x);
}

// Positional arguments and --out/--width/--height (as "--flag V" or "--flag=V").
Parsed parse(int argc, char** argv, bool allow_out) {
    Parsed p;
    for (int i = 0; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0) {
            p.positional.push_back(a);
            continue;
        }
        std::string name = a, value;
        if (auto eq = a.find('='); eq != std::string::npos) {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
        } else {
            STRIDE_CHECK(i + 1 < argc, "flag " + a + " needs a value");
            value = argv[++i];
        }
        if (name == "--out" && allow_out)
            p.out = value;
        else if (name == "--width" && !allow_out)
            p.width = positive_int(name, value);
        else if (name == "--height" && !allow_out)
            p.height = positive_int(name, value);
        else
            throw Error("unknown flag " + name);
    }
    return p;
}

bool wants_help(int argc, char** argv) {
    return argc > 0 && (std::string(argv[0]) == "--help" || std::string(argv[0]) == "-h");
}

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
    if (wants_help(argc, argv)) return std::fputs(kReportUsage, stdout), 0;
    Parsed p = parse(argc, argv, true);
    if (p.positional.empty()) return std::fputs(kReportUsage, stderr), 2;
    std::vector<RunData> runs;
    for (const auto& dir : p.positional) runs.push_back(load_run(dir));
    const std::string out = p.out.empty() ? p.positional[0] + "/report.html" : p.out;
    std::ofstream f(out);
    STRIDE_CHECK(f, out + ": cannot open for writing");
    f << render_report_html(runs);
    f.close();
    STRIDE_CHECK(f, out + ": write failed");
    std::fprintf(stderr, "wrote %s (%zu run%s)\n", out.c_str(), runs.size(), runs.size() > 1 ? "s" : "");
    return 0;
}

int plot(int argc, char** argv) {
    if (wants_help(argc, argv)) return std::fputs(kPlotUsage, stdout), 0;
    Parsed p = parse(argc, argv, false);
    if (p.positional.size() < 2) return std::fputs(kPlotUsage, stderr), 2;
    RunData run = load_run(p.positional[0]);
    int rc = 0, printed = 0;
    for (size_t i = 1; i < p.positional.size(); ++i) {
        chart::Series s = plot_series(run, p.positional[i]);
        if (s.x.empty()) {
            std::fprintf(stderr, "stride plot: no values of '%s' in %s/metrics.jsonl or sft_metrics.jsonl\n",
                         p.positional[i].c_str(), run.dir.c_str());
            rc = 1;
            continue;
        }
        if (printed++) std::fputs("\n", stdout);
        std::fputs(chart::render_text_chart(s, p.width, p.height).c_str(), stdout);
    }
    return rc;
}

}  // namespace stride::cli
