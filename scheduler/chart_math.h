// The arithmetic shared by `stride report`'s SVG charts and `stride plot`'s text charts: the range of
// a set of series (NaN skipped), a linear scale, and "nice" ticks (1, 2 or 5 times a power of ten).
#pragma once
#include <string>
#include <vector>

namespace stride::chart {

// One curve: points (x[i], y[i]); a NaN in either is a gap, not a point.
struct Series {
    std::string label;
    std::vector<double> x, y;
};

struct Range {
    double lo = 0, hi = 0;
    bool empty = true;  // no finite point at all
};

// The finite points of a series, in order (NaN and infinities dropped).
Series finite_points(const Series& s);

// The x and y ranges over every finite point of `series`.
Range x_range(const std::vector<Series>& series);
Range y_range(const std::vector<Series>& series);

// A range with room to draw: an empty range and the single value 0 become [0, 1]; a single value v
// becomes v +- |v|/10.
Range padded(Range r);

// Maps [d0, d1] onto [r0, r1] (r0 > r1 for a y axis drawn downward).
struct Scale {
    double d0, d1, r0, r1;
    double operator()(double v) const;
};

// Ticks: a step of 1, 2 or 5 times 10^k giving at most `max_ticks` ticks, every multiple of the step
// inside [lo, hi], the step at least `min_step` (1 for an axis of steps). `lo < hi` required.
double nice_step(double lo, double hi, int max_ticks, double min_step = 0);
std::vector<double> nice_ticks(double lo, double hi, int max_ticks, double min_step = 0);

// A tick label: as many decimals as the step needs ("0.5", "1200", "1.5e-05" for tiny or huge values).
std::string format_tick(double v, double step);
// A value in a table or a label: up to 4 significant digits, whole from 10^4 up (no exponent).
std::string format_value(double v);

}  // namespace stride::chart
