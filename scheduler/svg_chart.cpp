#include "scheduler/svg_chart.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace stride::chart {

namespace {

constexpr int kLeft = 64, kRight = 16, kTop = 30, kBottom = 46, kLegendRow = 16;
constexpr double kCharW = 6.6;  // average width of a 11px sans-serif character

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string text(double x, double y, const std::string& s, const std::string& attrs = "") {
    return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" " + attrs + ">" + xml_escape(s) + "</text>";
}

std::string line(double x0, double y0, double x1, double y1, const std::string& attrs) {
    return "<line x1=\"" + num(x0) + "\" y1=\"" + num(y0) + "\" x2=\"" + num(x1) + "\" y2=\"" + num(y1) +
           "\" " + attrs + "/>";
}

std::vector<Line> drawable(const std::vector<Line>& lines) {
    std::vector<Line> out;
    for (const Line& l : lines) {
        Line f{finite_points(l.series), l.color, l.dash};
        if (!f.series.x.empty()) out.push_back(std::move(f));
    }
    return out;
}

// Legend items laid out left to right, wrapping; returns the SVG and the rows used.
std::string legend(const std::vector<Line>& lines, int width, int& rows) {
    std::ostringstream os;
    double x = kLeft;
    rows = lines.empty() ? 0 : 1;
    for (const Line& l : lines) {
        const double w = 30 + kCharW * l.series.label.size();
        if (x + w > width - kRight && x > kLeft) {
            x = kLeft;
            ++rows;
        }
        const double y = kTop + (rows - 1) * kLegendRow + 6;
        os << line(x, y, x + 22, y,
                   "stroke=\"" + l.color + "\" stroke-width=\"2.5\"" +
                       (l.dash.empty() ? "" : " stroke-dasharray=\"" + l.dash + "\""));
        os << text(x + 26, y + 4, l.series.label, "class=\"legend\"");
        x += w + 12;
    }
    return os.str();
}

std::string x_axis(const Range& r, const Scale& sx, double y0, double top, double min_step) {
    std::ostringstream os;
    const auto ticks = nice_ticks(r.lo, r.hi, 8, min_step);
    const double step = nice_step(r.lo, r.hi, 8, min_step);
    for (double t : ticks) {
        os << line(sx(t), top, sx(t), y0, "class=\"grid\"")
           << line(sx(t), y0, sx(t), y0 + 5, "class=\"axis\"");
        os << text(sx(t), y0 + 17, format_tick(t, step), "text-anchor=\"middle\" class=\"tick\"");
    }
    return os.str();
}

std::string y_axis(const Range& r, const Scale& sy, double x0, double right) {
    std::ostringstream os;
    const auto ticks = nice_ticks(r.lo, r.hi, 6);
    const double step = nice_step(r.lo, r.hi, 6);
    for (double t : ticks) {
        os << line(x0, sy(t), right, sy(t), "class=\"grid\"")
           << line(x0 - 5, sy(t), x0, sy(t), "class=\"axis\"");
        os << text(x0 - 8, sy(t) + 4, format_tick(t, step), "text-anchor=\"end\" class=\"tick\"");
    }
    return os.str();
}

std::string polyline(const Line& l, const Scale& sx, const Scale& sy) {
    std::ostringstream pts, os;
    for (size_t i = 0; i < l.series.x.size(); ++i)
        pts << (i ? " " : "") << num(sx(l.series.x[i])) << "," << num(sy(l.series.y[i]));
    os << "<polyline fill=\"none\" stroke=\"" << l.color << "\" stroke-width=\"1.8\""
       << (l.dash.empty() ? "" : " stroke-dasharray=\"" + l.dash + "\"") << " points=\"" << pts.str()
       << "\"/>";
    if (l.series.x.size() <= 40)  // sparse series (eval accuracy): mark the points
        for (size_t i = 0; i < l.series.x.size(); ++i)
            os << "<circle cx=\"" << num(sx(l.series.x[i])) << "\" cy=\"" << num(sy(l.series.y[i]))
               << "\" r=\"2.5\" fill=\"" << l.color << "\"/>";
    return os.str();
}

std::string percent(double share) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", 100 * share);
    return buf;
}

std::string svg_open(int width, int height, const std::string& title) {
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
           std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " +
           std::to_string(height) + "\" class=\"chart\">" +
           text(width / 2.0, 18, title, "text-anchor=\"middle\" class=\"title\"");
}

}  // namespace

std::string render_line_chart(const LineChart& c) {
    const std::vector<Line> lines = drawable(c.lines);
    int legend_rows = 0;
    const std::string legend_svg = legend(lines, c.width, legend_rows);
    // A legend of more than two rows makes the chart taller rather than its plot smaller.
    const int height = c.height + std::max(0, legend_rows - 2) * kLegendRow;
    const double top = kTop + legend_rows * kLegendRow + 6, bottom = height - kBottom;
    const double left = kLeft, right = c.width - kRight;
    std::vector<Series> all;
    for (const Line& l : lines) all.push_back(l.series);
    const Range rx = padded(x_range(all)), ry = padded(y_range(all));
    const Scale sx{rx.lo, rx.hi, left, right}, sy{ry.lo, ry.hi, bottom, top};
    std::ostringstream os;
    os << svg_open(c.width, height, c.title) << legend_svg;
    os << x_axis(rx, sx, bottom, top, c.x_min_step) << y_axis(ry, sy, left, right);
    os << line(left, bottom, right, bottom, "class=\"axis\"")
       << line(left, top, left, bottom, "class=\"axis\"");
    os << text((left + right) / 2, height - 8, c.x_label, "text-anchor=\"middle\" class=\"label\"");
    const double mid = (top + bottom) / 2;
    os << text(14, mid, c.y_label,
               "text-anchor=\"middle\" class=\"label\" transform=\"rotate(-90 14 " + num(mid) + ")\"");
    for (const Line& l : lines) os << polyline(l, sx, sy);
    os << "</svg>";
    return os.str();
}

std::string render_share_bars(const std::string& title, const std::vector<Bar>& bars, int width) {
    constexpr double kBarH = 18, kGap = 8;
    size_t longest = 0;
    for (const Bar& b : bars) longest = std::max(longest, b.label.size());
    const int height = static_cast<int>(kTop + bars.size() * (kBarH + kGap) + kBottom);
    const double left = std::min(width / 2.0, 16 + kCharW * longest), right = width - kRight - 40,
                 bottom = height - kBottom;
    const Scale sx{0, 1, left, right};
    std::ostringstream os;
    os << svg_open(width, height, title);
    for (double t : nice_ticks(0, 1, 6)) {
        os << line(sx(t), kTop, sx(t), bottom, "class=\"grid\"");
        os << text(sx(t), bottom + 17, format_tick(t * 100, 20) + "%",
                   "text-anchor=\"middle\" class=\"tick\"");
    }
    for (size_t i = 0; i < bars.size(); ++i) {
        const double y = kTop + i * (kBarH + kGap), v = std::clamp(bars[i].value, 0.0, 1.0);
        os << text(left - 8, y + kBarH - 5, bars[i].label, "text-anchor=\"end\" class=\"tick\"");
        os << "<rect x=\"" << num(left) << "\" y=\"" << num(y) << "\" width=\"" << num(sx(v) - left)
           << "\" height=\"" << num(kBarH) << "\" fill=\"" << bars[i].color << "\"/>";
        os << text(sx(v) + 4, y + kBarH - 5, percent(bars[i].value), "class=\"tick\"");
    }
    os << line(left, bottom, right, bottom, "class=\"axis\"")
       << line(left, kTop, left, bottom, "class=\"axis\"");
    os << text((left + right) / 2, height - 8, "share of wall time",
               "text-anchor=\"middle\" class=\"label\"");
    os << "</svg>";
    return os.str();
}

const std::string& palette(size_t i) {
    static const std::vector<std::string> colors = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                    "#9467bd", "#8c564b", "#e377c2", "#17becf"};
    return colors[i % colors.size()];
}

const std::string& dash_pattern(size_t i) {
    static const std::vector<std::string> dashes = {"", "6 3", "2 3", "8 3 2 3"};
    return dashes[i % dashes.size()];
}

std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace stride::chart
