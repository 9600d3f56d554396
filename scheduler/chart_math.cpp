#include "scheduler/chart_math.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/base/error.h"

namespace stride::chart {

Series finite_points(const Series& s) {
    Series out{s.label, {}, {}};
    const size_t n = std::min(s.x.size(), s.y.size());
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        out.x.push_back(s.x[i]);
        out.y.push_back(s.y[i]);
    }
    return out;
}

namespace {

void extend(Range& r, double v) {
    if (!std::isfinite(v)) return;
    r.lo = r.empty ? v : std::min(r.lo, v);
    r.hi = r.empty ? v : std::max(r.hi, v);
    r.empty = false;
}

Range range_of(const std::vector<Series>& series, bool want_x) {
    Range r;
    for (const Series& s : series) {
        Series f = finite_points(s);
        for (double v : want_x ? f.x : f.y) extend(r, v);
    }
    return r;
}

}  // namespace

Range x_range(const std::vector<Series>& series) {
    return range_of(series, true);
}
Range y_range(const std::vector<Series>& series) {
    return range_of(series, false);
}

Range padded(Range r) {
    if (r.empty || (r.lo == 0 && r.hi == 0)) return {0, 1, false};
    if (r.hi > r.lo) return r;
    const double pad = std::abs(r.lo) * 0.1;
    return {r.lo - pad, r.hi + pad, false};
}

double Scale::operator()(double v) const {
    if (d1 == d0) return (r0 + r1) / 2;
    return r0 + (v - d0) / (d1 - d0) * (r1 - r0);
}

double nice_step(double lo, double hi, int max_ticks, double min_step) {
    STRIDE_CHECK(hi > lo && max_ticks >= 2, "nice_step needs lo < hi and at least 2 ticks");
    const double raw = (hi - lo) / (max_ticks - 1);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        const double step = std::max(m * mag, min_step);
        if (std::floor(hi / step) - std::ceil(lo / step) + 1 <= max_ticks) return step;
    }
    return std::max(20 * mag, min_step);
}

std::vector<double> nice_ticks(double lo, double hi, int max_ticks, double min_step) {
    const double step = nice_step(lo, hi, max_ticks, min_step);
    std::vector<double> ticks;
    for (double k = std::ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k += 1) {
        const double t = k * step;
        ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);  // no "-0"
    }
    return ticks;
}

std::string format_tick(double v, double step) {
    char buf[32];
    const double a = std::max(std::abs(v), step);
    if (a >= 1e6 || (step < 1e-4 && v != 0)) {
        std::snprintf(buf, sizeof buf, "%.2g", v);
        return buf;
    }
    const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string format_value(double v) {
    if (!std::isfinite(v)) return "-";
    char buf[32];
    const bool whole = std::abs(v) >= 1e4 && std::abs(v) < 1e15;  // 12345 steps, not 1.234e+04
    std::snprintf(buf, sizeof buf, whole ? "%.0f" : "%.4g", v);
    return buf;
}

}  // namespace stride::chart
