// common/base/deadline_poll.h: waiting for an asynchronous operation that may never finish.
//
// A collective (an NCCL broadcast, a communicator's init) whose peer never arrives blocks forever if
// waited on naively. Here the caller describes the operation as an AsyncOp (poll it, abort it) and
// wait_with_deadline polls it until it is done, it fails, its deadline passes or *stop is set; in the
// last three cases the operation is aborted (once) and DeadlineError / Error names the call and the
// peers it was waiting on. The NCCL communicator (model/nccl/nccl_comm.h) is one AsyncOp; the CPU test
// (tests/common/test_deadline_poll.cpp) drives this logic with fake operations.
#pragma once
#include <atomic>
#include <functional>
#include <string>

#include "common/base/error.h"

namespace stride {

enum class AsyncState { in_progress, done, failed };

struct AsyncPoll {
    AsyncState state = AsyncState::in_progress;
    std::string error;  // when failed: what the operation reports
};

class AsyncOp {
   public:
    virtual ~AsyncOp() = default;
    // Non-blocking: where the operation stands now.
    virtual AsyncPoll poll() = 0;
    // Gives up on the operation and frees what it holds (ncclCommAbort); called at most once.
    virtual void abort() = 0;
};

// Why a wait ended without the operation done.
enum class WaitOutcome { expired, stopped, failed };

struct DeadlineOptions {
    double timeout_s = 60;
    const std::atomic<bool>* stop = nullptr;  // optional: set by the role on shutdown
    std::string call;                         // "ncclBroadcast(version 7, bucket 3 of 12)"
    std::string peers;                        // "ranks 1-2 (rollout-0, rollout-1)"
    // Called once before the error is thrown (a metric counter, a log line).
    std::function<void(WaitOutcome)> on_give_up;
};

// The error of a wait that expired or was stopped; the operation has been aborted.
class DeadlineError : public Error {
   public:
    DeadlineError(const std::string& what, WaitOutcome outcome) : Error(what), outcome_(outcome) {}
    WaitOutcome outcome() const { return outcome_; }

   private:
    WaitOutcome outcome_;
};

// Polls `op` until done (returns), with a back-off from 20 us to 1 ms between polls. On expiry or
// stop: op.abort(), on_give_up, then throws DeadlineError naming opt.call, opt.peers and the seconds
// waited. On failure: op.abort(), on_give_up(failed), then throws Error with the operation's message.
void wait_with_deadline(AsyncOp& op, const DeadlineOptions& opt);

}  // namespace stride
