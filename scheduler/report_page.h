// The HTML page of `stride report`: the curves a person looks at first (one inline SVG each, the runs
// overlaid), the busy share of each role, each run's summary and resolved config. No script, no
// network: one self-contained file.
#pragma once
#include <string>
#include <vector>

#include "scheduler/run_report.h"
#include "scheduler/svg_chart.h"

namespace stride {

struct ReportChart {
    std::string title, y_label;
    std::vector<std::string> keys;
    bool sft = false;  // read sft_metrics.jsonl (x: sft_step) instead of metrics.jsonl (x: step)
};

// The charts of the page, in order.
const std::vector<ReportChart>& report_charts();

// The lines of one chart over the runs: one per run and key that has a value (colour per key for one
// run; colour per run and dash per key for several).
std::vector<chart::Line> chart_lines(const ReportChart& c, const std::vector<RunData>& runs);

std::string render_report_html(const std::vector<RunData>& runs);

}  // namespace stride
