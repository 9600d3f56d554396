// RewardQueue: asynchronous scoring in front of a RewardFn, so that the thread producing samples (a
// rollout worker's decode loop) does not wait on rewards while the queue has room.
//
// submit() hands a sample over with a tag of the caller's choosing and returns at once, unless
// `capacity` samples are already pending (waiting or being scored): then it blocks until one is
// scored. That back-pressure keeps the queue bounded when rewards are slower than generation, and
// is counted (full_waits) so that a reward that stalls rollout shows in the metrics. Scoring threads
// take what is waiting, up to max_batch samples, and score it in one RewardFn::score_batch call (one
// round trip per worker process for plug-in and Python rewards). poll() returns what has been scored
// since the last poll, in completion order; every submitted sample comes back exactly once.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "reward/reward.h"

namespace stride {

struct ScoredSample {
    uint64_t tag = 0;
    RewardResult result;
    double seconds = 0.0;  // from submit to scored: the reward latency the producer sees
};

struct RewardQueueOptions {
    int capacity = 1024;  // pending samples before submit blocks
    int max_batch = 64;   // samples per score_batch call
    int threads = 2;      // score_batch calls at once (a plug-in pool splits each over its workers)
};

class RewardQueue {
   public:
    RewardQueue(std::shared_ptr<const RewardFn> fn, RewardQueueOptions opt = {});
    ~RewardQueue();  // close(): scores what is pending first
    RewardQueue(const RewardQueue&) = delete;
    RewardQueue& operator=(const RewardQueue&) = delete;

    // Thread-safe. Returns at once while fewer than `capacity` samples are pending, else waits for
    // room. Throws Error after close().
    void submit(uint64_t tag, RewardInput in);
    // Never blocks: the samples scored since the last poll or drain.
    std::vector<ScoredSample> poll();
    // Waits until nothing is pending, then returns as poll().
    std::vector<ScoredSample> drain();
    // Stops taking samples, scores those pending and joins the threads; their results stay for poll().
    // grace_s >= 0 bounds the wait: after it the reward is cancelled (RewardFn::cancel), so what is
    // still pending comes back with status error instead of waiting on a call that may never return
    // (a plug-in without time limit). Cancelling affects every user of the RewardFn: for shutdown.
    void close(double grace_s = -1.0);

    size_t depth() const;              // pending now (export as stride_reward_queue_depth)
    size_t max_depth() const;          // the most pending at once so far
    int64_t full_waits() const;        // submits that found the queue full and waited
    double full_wait_seconds() const;  // time those submits waited, in total
    size_t capacity() const { return capacity_; }

   private:
    using Clock = std::chrono::steady_clock;
    struct Pending {
        uint64_t tag;
        RewardInput in;
        Clock::time_point submitted;
    };
    void score_loop();

    std::shared_ptr<const RewardFn> fn_;
    const size_t capacity_, max_batch_;

    mutable std::mutex mu_;
    std::condition_variable work_cv_;  // scoring threads: samples waiting, or closing
    std::condition_variable room_cv_;  // submit and drain: pending went down
    std::deque<Pending> waiting_;
    size_t pending_ = 0;  // waiting + being scored
    size_t max_depth_ = 0;
    int64_t full_waits_ = 0;
    double full_wait_s_ = 0.0;
    std::vector<ScoredSample> done_;
    bool closing_ = false;
    std::vector<std::thread> threads_;
    std::mutex close_mu_;  // one close() joins the threads
};

}  // namespace stride
