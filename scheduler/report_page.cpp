#include "scheduler/report_page.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace stride {

using chart::xml_escape;

const std::vector<ReportChart>& report_charts() {
    static const std::vector<ReportChart> charts = {
        {"Reward and accuracy (training samples)", "mean", {"reward/mean", "accuracy"}},
        {"Eval accuracy (greedy, held-out prompts)", "accuracy", {"eval/accuracy"}},
        {"Response length", "tokens", {"response_length/mean", "response_length/max"}},
        {"Entropy", "nats per token", {"entropy"}},
        {"KL", "KL", {"approx_kl", "kl_ref"}},
        {"Clip fractions", "fraction of tokens", {"clip_frac/low", "clip_frac/high", "clip_frac/dual"}},
        {"Staleness", "policy versions", {"staleness/mean", "staleness/max"}},
        {"Throughput", "tokens/s", {"tokens_per_s"}},
        {"Step time", "seconds", {"time/step_s", "time/wait_s"}},
        {"Loss", "loss", {"loss", "pg_loss", "vf_loss"}},
        {"Gradient norm", "norm", {"grad_norm"}},
        {"SFT loss", "loss", {"loss"}, true},
        {"SFT eval accuracy", "accuracy", {"eval/accuracy"}, true},
    };
    return charts;
}

namespace {

// A run's label on the page: its directory name, or the path given where two names collide.
std::vector<std::string> run_labels(const std::vector<RunData>& runs) {
    std::multiset<std::string> names;
    for (const auto& r : runs) names.insert(r.name);
    std::vector<std::string> labels;
    for (const auto& r : runs) labels.push_back(names.count(r.name) > 1 ? r.dir : r.name);
    return labels;
}

}  // namespace

std::vector<chart::Line> chart_lines(const ReportChart& c, const std::vector<RunData>& runs) {
    const auto labels = run_labels(runs);
    std::vector<chart::Line> lines;
    for (size_t r = 0; r < runs.size(); ++r) {
        const auto& rows = c.sft ? runs[r].sft : runs[r].steps;
        for (size_t k = 0; k < c.keys.size(); ++k) {
            chart::Series s = series_of(rows, c.keys[k], c.sft ? "sft_step" : "step");
            if (s.x.empty()) continue;
            if (runs.size() > 1) s.label = labels[r] + " " + c.keys[k];
            lines.push_back({std::move(s), chart::palette(runs.size() > 1 ? r : k),
                             runs.size() > 1 ? chart::dash_pattern(k) : ""});
        }
    }
    return lines;
}

namespace {

const char* kStyle = R"(
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
.chart { border: 1px solid #e4e4e4; background: #fff; }
.chart .title { font-size: 13px; font-weight: bold; } .chart .tick { font-size: 11px; fill: #444; }
.chart .label { font-size: 11px; fill: #444; } .chart .legend { font-size: 11px; }
.chart .axis { stroke: #444; stroke-width: 1; } .chart .grid { stroke: #eee; stroke-width: 1; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0 16px; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; overflow-wrap: anywhere; } td.n { text-align: right; }
pre { background: #f6f6f6; padding: 8px; font-size: 12px; overflow-x: auto; } .note { color: #666; }
)";

std::string curves(const std::vector<RunData>& runs) {
    std::ostringstream os, skipped;
    os << "<h2>Curves</h2>\n<div class=\"grid\">\n";
    for (const ReportChart& c : report_charts()) {
        auto lines = chart_lines(c, runs);
        if (lines.empty()) {
            skipped << (skipped.tellp() > 0 ? "; " : "") << xml_escape(c.title);
            continue;
        }
        os << chart::render_line_chart({c.title, c.sft ? "SFT step" : "trainer step", c.y_label, lines})
           << "\n";
    }
    os << "</div>\n";
    if (skipped.tellp() > 0)
        os << "<p class=\"note\">Not in these runs' metrics: " << skipped.str() << ".</p>\n";
    return os.str();
}

double summary_number(const nlohmann::json& s, const char* key) {
    auto it = s.find(key);
    return it != s.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string time_split(const std::vector<RunData>& runs) {
    const auto labels = run_labels(runs);
    std::vector<chart::Bar> bars;
    for (size_t r = 0; r < runs.size(); ++r) {
        const auto& s = runs[r].summary;
        // Processes mode: the rollout sums cover the workers that reported their counters.
        const char* workers_key = s.is_object() && s.contains("rollout_workers_reported")
                                      ? "rollout_workers_reported"
                                      : "rollout_workers";
        const double wall = summary_number(s, "wall_s"),
                     workers = std::max(1.0, summary_number(s, workers_key));
        if (!s.is_object() || wall <= 0) continue;
        const std::string prefix = runs.size() > 1 ? labels[r] + ": " : "";
        auto color = [&](size_t role) { return chart::palette(runs.size() > 1 ? r : role); };
        // A share the summary does not record is left out, not drawn as 0% (a processes-mode run of
        // an older stride has no rollout counters).
        auto share = [&](const std::string& label, const char* key, double per, size_t role) {
            if (s.contains(key) && s[key].is_number())
                bars.push_back({prefix + label, summary_number(s, key) / per / wall, color(role)});
        };
        share("trainer busy", "trainer_busy_s", 1.0, 0);
        share("rollout busy (per worker)", "rollout_busy_s", workers, 1);
        share("rollout idle (per worker)", "rollout_idle_s", workers, 2);
    }
    if (bars.empty()) return "<h2>Time split</h2>\n<p class=\"note\">No run_summary.json with wall_s.</p>\n";
    return "<h2>Time split</h2>\n" + chart::render_share_bars("Busy share of wall time, by role", bars, 760) +
           "\n";
}

std::string cell(const nlohmann::json& v) {
    if (v.is_number()) return "<td class=\"n\">" + chart::format_value(v.get<double>()) + "</td>";
    return "<td>" + xml_escape(v.is_string() ? v.get<std::string>() : v.dump()) + "</td>";
}

std::string first_last(const std::vector<nlohmann::json>& rows, const std::string& key) {
    chart::Series s = series_of(rows, key, "step");
    if (s.x.empty()) return "-";
    return chart::format_value(s.y.front()) + " (step " + chart::format_value(s.x.front()) + ") &rarr; " +
           chart::format_value(s.y.back()) + " (step " + chart::format_value(s.x.back()) + ")";
}

// One row: a heading and one cell per run.
template <typename CellFn>
std::string summary_row(const std::string& heading, size_t runs, CellFn cell_of) {
    std::string row = "<tr><th>" + xml_escape(heading) + "</th>";
    for (size_t r = 0; r < runs; ++r) row += cell_of(r);
    return row + "</tr>\n";
}

// One column per run: steps, first and last eval accuracy and reward, every run_summary.json key.
std::string summary_table(const std::vector<RunData>& runs, const std::vector<std::string>& labels) {
    const size_t n = runs.size();
    std::set<std::string> keys;
    for (const auto& run : runs)
        if (run.summary.is_object())
            for (auto it = run.summary.begin(); it != run.summary.end(); ++it) keys.insert(it.key());
    std::ostringstream os;
    os << "<table>\n"
       << summary_row("run", n, [&](size_t r) { return "<th>" + xml_escape(labels[r]) + "</th>"; });
    os << summary_row("directory", n, [&](size_t r) { return cell(runs[r].dir); });
    os << summary_row("trainer steps", n, [&](size_t r) { return cell(runs[r].steps.size()); });
    os << summary_row("SFT steps", n, [&](size_t r) { return cell(runs[r].sft.size()); });
    for (const char* key : {"eval/accuracy", "reward/mean"})
        os << summary_row(key, n,
                          [&](size_t r) { return "<td>" + first_last(runs[r].steps, key) + "</td>"; });
    for (const auto& key : keys)
        os << summary_row(key, n, [&](size_t r) {
            auto it = runs[r].summary.is_object() ? runs[r].summary.find(key) : runs[r].summary.end();
            return it == runs[r].summary.end() ? std::string("<td>-</td>") : cell(*it);
        });
    os << "</table>\n";
    if (keys.empty()) os << "<p class=\"note\">No run_summary.json.</p>\n";
    return os.str();
}

std::string summaries_and_configs(const std::vector<RunData>& runs) {
    const auto labels = run_labels(runs);
    std::ostringstream os;
    os << "<h2>Summary</h2>\n";
    os << summary_table(runs, labels);
    os << "<h2>Resolved config</h2>\n";
    for (size_t r = 0; r < runs.size(); ++r) {
        os << "<details" << (runs.size() == 1 ? " open" : "") << "><summary>" << xml_escape(labels[r])
           << "/config.yaml</summary>\n<pre>"
           << (!runs[r].config_yaml.empty() ? xml_escape(runs[r].config_yaml) : "(no config.yaml)")
           << "</pre></details>\n";
    }
    return os.str();
}

}  // namespace

std::string render_report_html(const std::vector<RunData>& runs) {
    const auto labels = run_labels(runs);
    std::ostringstream os, names;
    for (size_t r = 0; r < labels.size(); ++r) names << (r ? ", " : "") << xml_escape(labels[r]);
    os << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>stride report: " << names.str()
       << "</title>\n<style>" << kStyle << "</style></head>\n<body>\n<h1>stride report: " << names.str()
       << "</h1>\n";
    os << curves(runs) << time_split(runs) << summaries_and_configs(runs);
    os << "</body></html>\n";
    return os.str();
}

}  // namespace stride
