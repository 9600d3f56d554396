#include "scheduler/text_chart.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

namespace stride::chart {

namespace {

using Grid = std::vector<std::string>;

// Marks the points, and joins each to the next with a vertical run in the column between them.
void draw(Grid& grid, const Series& s, const Scale& sx, const Scale& sy) {
    int prev_col = -1, prev_row = -1;
    for (size_t i = 0; i < s.x.size(); ++i) {
        const int col = static_cast<int>(std::lround(sx(s.x[i])));
        const int row = static_cast<int>(std::lround(sy(s.y[i])));
        if (prev_col >= 0 && col - prev_col <= 1) {
            for (int r = std::min(row, prev_row) + 1; r < std::max(row, prev_row); ++r) grid[r][col] = '|';
        }
        grid[row][col] = '*';
        prev_col = col;
        prev_row = row;
    }
}

std::string pad_left(const std::string& s, size_t w) {
    return s.size() >= w ? s : std::string(w - s.size(), ' ') + s;
}

}  // namespace

std::string render_text_chart(const Series& series, int width, int height) {
    const Series s = finite_points(series);
    std::ostringstream os;
    os << s.label;
    if (s.x.empty()) return os.str() + "  (no values)\n";
    os << "  (" << s.x.size() << " points, last " << format_value(s.y.back()) << ")\n";
    const Range rx = padded(x_range({s})), ry = padded(y_range({s}));
    const Range data_y = y_range({s});
    const Scale sx{rx.lo, rx.hi, 0, static_cast<double>(width - 1)};
    const Scale sy{ry.lo, ry.hi, static_cast<double>(height - 1), 0};
    Grid grid(height, std::string(width, ' '));
    draw(grid, s, sx, sy);
    const std::string hi = format_value(data_y.hi), lo = format_value(data_y.lo);
    const size_t lw = std::max(hi.size(), lo.size());
    const int hi_row = static_cast<int>(std::lround(sy(data_y.hi)));
    const int lo_row = static_cast<int>(std::lround(sy(data_y.lo)));
    for (int r = 0; r < height; ++r) {
        const std::string label = r == hi_row ? hi : r == lo_row ? lo : "";
        os << pad_left(label, lw) << " |" << grid[r] << "\n";
    }
    os << std::string(lw, ' ') << " +" << std::string(width, '-') << "\n";
    const std::string x0 = format_value(s.x.front()), x1 = format_value(s.x.back());
    const size_t gap = width > static_cast<int>(x0.size() + x1.size()) ? width - x0.size() - x1.size() : 1;
    os << std::string(lw + 2, ' ') << x0 << std::string(gap, ' ') << x1 << "\n";
    return os.str();
}

}  // namespace stride::chart
