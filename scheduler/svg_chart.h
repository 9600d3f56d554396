// Self-contained SVG charts for `stride report`: a line chart (axes, nice ticks, labels, a legend,
// several series overlaid) and a horizontal bar chart of shares (the busy time of each role).
#pragma once
#include <string>
#include <vector>

#include "scheduler/chart_math.h"

namespace stride::chart {

struct Line {
    Series series;      // NaN points are skipped
    std::string color;  // any SVG colour
    std::string dash;   // SVG stroke-dasharray; empty: solid
};

struct LineChart {
    std::string title, x_label, y_label;
    std::vector<Line> lines;
    int width = 560, height = 320;
    double x_min_step = 1;  // the smallest x tick step: 1 for an axis of steps, 0 for any
};

// One <svg> element. Lines without a finite point are left out of the plot and the legend.
std::string render_line_chart(const LineChart& chart);

struct Bar {
    std::string label;  // e.g. "run-a: trainer busy"
    double value;       // a share in [0, 1], drawn as a percentage
    std::string color;
};

// One <svg> element: one horizontal bar per entry, on a 0-100% axis.
std::string render_share_bars(const std::string& title, const std::vector<Bar>& bars, int width = 560);

// The colours of successive series, and dash patterns to tell keys apart when colour means the run.
const std::string& palette(size_t i);
const std::string& dash_pattern(size_t i);

// Text for SVG or HTML content and attributes (&, <, >, ").
std::string xml_escape(const std::string& s);

}  // namespace stride::chart
