// Progress line text: counter, fields, end-to-end tokens/s, elapsed and ETA (progress_meter.h).
#include "common/progress_meter.h"

#include <fmt/format.h>

#include <cmath>

namespace stride {

ProgressMeter::ProgressMeter(std::string label, int64_t total, int64_t done_at_start, Clock::time_point start)
    : label_(std::move(label)), total_(total), done_at_start_(done_at_start), start_(start) {}

double ProgressMeter::elapsed_s(Clock::time_point now) const {
    return std::chrono::duration<double>(now - start_).count();
}

double ProgressMeter::tokens_per_s(Clock::time_point now) const {
    const double secs = elapsed_s(now);
    return secs > 0 ? static_cast<double>(tokens_) / secs : 0.0;
}

double ProgressMeter::eta_s(int64_t done, Clock::time_point now) const {
    const int64_t this_run = done - done_at_start_;
    if (this_run <= 0) return -1;
    return elapsed_s(now) / static_cast<double>(this_run) *
           static_cast<double>(std::max<int64_t>(0, total_ - done));
}

std::string ProgressMeter::update(int64_t done, int64_t tokens, const std::string& fields,
                                  Clock::time_point now) {
    tokens_ += tokens;
    return fmt::format("[{} {}/{}]{}{} | {} tokens/s | {} elapsed, ETA {}", label_, done, total_,
                       fields.empty() ? "" : " ", fields, human_count(tokens_per_s(now)),
                       human_duration(elapsed_s(now)), human_duration(eta_s(done, now)));
}

std::string human_duration(double seconds) {
    if (seconds < 0 || !std::isfinite(seconds)) return "?";
    const int64_t s = static_cast<int64_t>(std::llround(seconds));
    if (s < 60) return fmt::format("{}s", s);
    if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
    return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

std::string human_count(double value) {
    if (!std::isfinite(value)) return "?";
    if (value < 1000) return fmt::format("{:.0f}", value);
    if (value < 1e6) return fmt::format("{:.{}f}k", value / 1e3, value < 1e4 ? 1 : 0);
    return fmt::format("{:.{}f}M", value / 1e6, value < 1e7 ? 1 : 0);
}

}  // namespace stride
