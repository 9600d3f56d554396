// tests/common/test_deadline_poll.cpp: the poll/deadline/abort logic of common/base/deadline_poll.h,
// which guards every NCCL call, driven by fake operations on the CPU: one that finishes (after some
// polls, or on another thread), one that never finishes (aborted at its deadline, not before, not
// long after), one that fails (its error reported), one stopped by the role.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/base/deadline_poll.h"

namespace stride {
namespace {

using Clock = std::chrono::steady_clock;

// An operation whose state is set from outside (another thread, or after `done_after` polls).
class FakeOp : public AsyncOp {
   public:
    std::atomic<int> polls{0}, aborts{0};
    std::atomic<bool> done{false};
    int done_after = -1;  // polls until done; -1: only when `done` is set
    std::string error;    // non-empty: the operation fails with it
    AsyncPoll poll() override {
        const int n = ++polls;
        if (!error.empty()) return {AsyncState::failed, error};
        if (done || (done_after >= 0 && n >= done_after)) return {AsyncState::done, {}};
        return {};
    }
    void abort() override { ++aborts; }
};

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

DeadlineOptions options(double timeout_s, std::vector<WaitOutcome>* outcomes) {
    DeadlineOptions o;
    o.timeout_s = timeout_s;
    o.call = "ncclBroadcast(version 7, bucket 3 of 12)";
    o.peers = "ranks 1-2 (rollout-0, rollout-1)";
    o.on_give_up = [outcomes](WaitOutcome w) { outcomes->push_back(w); };
    return o;
}

TEST(DeadlinePoll, AnOperationInProgressThenDoneReturnsWithoutAbort) {
    FakeOp op;
    op.done_after = 5;
    std::vector<WaitOutcome> outcomes;
    wait_with_deadline(op, options(5, &outcomes));
    EXPECT_EQ(op.polls, 5);
    EXPECT_EQ(op.aborts, 0);
    EXPECT_TRUE(outcomes.empty());
}

TEST(DeadlinePoll, AnOperationFinishedByAnotherThreadIsSeenPromptly) {
    FakeOp op;
    std::thread finisher([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        op.done = true;
    });
    std::vector<WaitOutcome> outcomes;
    const auto t0 = Clock::now();
    wait_with_deadline(op, options(10, &outcomes));
    const double took = seconds_since(t0);
    finisher.join();
    EXPECT_GE(took, 0.1);
    EXPECT_LT(took, 2.0) << "the back-off is at most 1 ms between polls";
    EXPECT_GT(op.polls, 1);
    EXPECT_EQ(op.aborts, 0);
}

TEST(DeadlinePoll, AnOperationNeverDoneIsAbortedAtItsDeadline) {
    FakeOp op;
    std::vector<WaitOutcome> outcomes;
    const auto t0 = Clock::now();
    try {
        wait_with_deadline(op, options(0.3, &outcomes));
        FAIL() << "a never-finishing operation returned";
    } catch (const DeadlineError& e) {
        const double took = seconds_since(t0);
        EXPECT_GE(took, 0.3) << "aborted before its deadline";
        EXPECT_LT(took, 3.0) << "aborted long after its deadline";
        EXPECT_EQ(e.outcome(), WaitOutcome::expired);
        const std::string what = e.what();
        EXPECT_NE(what.find("ncclBroadcast(version 7, bucket 3 of 12)"), std::string::npos) << what;
        EXPECT_NE(what.find("ranks 1-2 (rollout-0, rollout-1)"), std::string::npos) << what;
        EXPECT_NE(what.find("deadline 0.30 s"), std::string::npos) << what;
    }
    EXPECT_EQ(op.aborts, 1);
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_EQ(outcomes[0], WaitOutcome::expired);
}

TEST(DeadlinePoll, AFailedOperationIsReportedWithItsErrorAndAborted) {
    FakeOp op;
    op.error = "unhandled system error (remote process exited)";
    std::vector<WaitOutcome> outcomes;
    try {
        wait_with_deadline(op, options(30, &outcomes));
        FAIL() << "a failed operation returned";
    } catch (const DeadlineError&) {
        FAIL() << "a failure is not a deadline";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("remote process exited"), std::string::npos) << what;
        EXPECT_NE(what.find("ncclBroadcast"), std::string::npos) << what;
        EXPECT_NE(what.find("rollout-1"), std::string::npos) << what;
    }
    EXPECT_EQ(op.polls, 1);
    EXPECT_EQ(op.aborts, 1);
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_EQ(outcomes[0], WaitOutcome::failed);
}

TEST(DeadlinePoll, StopEndsTheWaitLongBeforeTheDeadline) {
    FakeOp op;
    std::atomic<bool> stop{false};
    std::vector<WaitOutcome> outcomes;
    DeadlineOptions o = options(60, &outcomes);
    o.stop = &stop;
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        stop = true;
    });
    const auto t0 = Clock::now();
    try {
        wait_with_deadline(op, o);
        FAIL() << "a stopped wait returned";
    } catch (const DeadlineError& e) {
        EXPECT_EQ(e.outcome(), WaitOutcome::stopped);
        EXPECT_NE(std::string(e.what()).find("stopped"), std::string::npos) << e.what();
    }
    stopper.join();
    EXPECT_LT(seconds_since(t0), 5.0);
    EXPECT_EQ(op.aborts, 1);
    ASSERT_EQ(outcomes.size(), 1u);
    EXPECT_EQ(outcomes[0], WaitOutcome::stopped);
}

TEST(DeadlinePoll, ADoneOperationWinsOverAnExpiredDeadline) {
    // Done on the very poll after the deadline passed: the work happened, nothing is aborted.
    FakeOp op;
    op.done_after = 1;
    std::vector<WaitOutcome> outcomes;
    wait_with_deadline(op, options(0, &outcomes));
    EXPECT_EQ(op.aborts, 0);
    EXPECT_TRUE(outcomes.empty());
}

}  // namespace
}  // namespace stride
