// The text of a progress line: "[step 12/200] reward 0.41 | 3.2k tokens/s | 1m05s elapsed, ETA 16m..."
// for the RL steps (scheduler/job.cpp) and "[sft 40/300] loss 1.23 | ..." for the SFT warm start.
//
// tokens/s is end to end: every token the phase processed (prompt + response tokens of each step)
// over the wall time since the meter started, waits for rollouts and evals included; a step's own
// compute rate (metrics.jsonl's tokens_per_s) leaves the waits out and overstates what a run
// delivers. ETA: the mean wall time per step done so far, times the steps left.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace stride {

class ProgressMeter {
   public:
    using Clock = std::chrono::steady_clock;
    // `label` ("step", "sft"); `total` steps; `done_at_start` steps already done (a resume), which
    // count for neither the rate nor the ETA.
    ProgressMeter(std::string label, int64_t total, int64_t done_at_start = 0,
                  Clock::time_point start = Clock::now());

    // Records that `done` steps are done and `tokens` more tokens were processed since the last call,
    // at `now`; returns the line, with `fields` ("reward 0.41 eval 0.50") after the counter.
    std::string update(int64_t done, int64_t tokens, const std::string& fields,
                       Clock::time_point now = Clock::now());

    double elapsed_s(Clock::time_point now) const;
    // Tokens since start over wall time since start (0 before any time has passed).
    double tokens_per_s(Clock::time_point now) const;
    // Seconds left at the mean pace of the steps done since start; negative when unknown.
    double eta_s(int64_t done, Clock::time_point now) const;

   private:
    std::string label_;
    int64_t total_, done_at_start_;
    Clock::time_point start_;
    int64_t tokens_ = 0;
};

// "45s", "3m05s", "2h03m": a duration as a person reads it; "?" when negative.
std::string human_duration(double seconds);
// "950", "3.2k", "1.5M": a rate with at most 3 significant digits.
std::string human_count(double value);

}  // namespace stride
