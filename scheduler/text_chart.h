// `stride plot`'s terminal charts: one series drawn in a grid of characters, with the y range's
// max and min on the left and the first and last x under the plot.
#pragma once
#include <string>

#include "scheduler/chart_math.h"

namespace stride::chart {

// A `width` x `height` character plot of `s` (NaN points skipped) under a title line
// "label  (N points, last V)". A series without a finite point gives the title and "(no values)".
std::string render_text_chart(const Series& s, int width = 60, int height = 12);

}  // namespace stride::chart
