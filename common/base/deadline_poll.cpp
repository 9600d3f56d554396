// common/base/deadline_poll.cpp: see deadline_poll.h.
#include "common/base/deadline_poll.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.2f", s);
    return buf;
}

[[noreturn]] void give_up(AsyncOp& op, const DeadlineOptions& opt, WaitOutcome outcome, double waited,
                          const std::string& error) {
    op.abort();
    if (opt.on_give_up) opt.on_give_up(outcome);
    const std::string peers = opt.peers.empty() ? "" : " waiting on " + opt.peers;
    switch (outcome) {
        case WaitOutcome::expired:
            throw DeadlineError(opt.call + peers + ": not done after " + seconds_text(waited) +
                                    " s (deadline " + seconds_text(opt.timeout_s) + " s); aborted",
                                outcome);
        case WaitOutcome::stopped:
            throw DeadlineError(opt.call + peers + ": stopped after " + seconds_text(waited) + " s; aborted",
                                outcome);
        case WaitOutcome::failed:
            break;
    }
    throw Error(opt.call + peers + ": failed after " + seconds_text(waited) + " s: " + error + "; aborted");
}

}  // namespace

void wait_with_deadline(AsyncOp& op, const DeadlineOptions& opt) {
    const auto t0 = Clock::now();
    const auto deadline =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.timeout_s));
    auto pause = std::chrono::microseconds(20);
    for (;;) {
        const AsyncPoll p = op.poll();
        const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
        if (p.state == AsyncState::done) return;
        if (p.state == AsyncState::failed) give_up(op, opt, WaitOutcome::failed, waited, p.error);
        if (opt.stop && *opt.stop) give_up(op, opt, WaitOutcome::stopped, waited, {});
        if (Clock::now() >= deadline) give_up(op, opt, WaitOutcome::expired, waited, {});
        // Short collectives finish within microseconds: poll fast first, then back off so that a long
        // wait costs little CPU.
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(1000));
    }
}

}  // namespace stride
