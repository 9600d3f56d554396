#include "reward/guard.h"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace stride {

namespace {

RewardResult score_catching(const RewardFn& fn, const RewardInput& in) {
    try {
        return fn.score(in);
    } catch (const std::exception& e) {
        return {0.0, RewardStatus::error, fn.name() + ": " + e.what(), false};
    } catch (...) {
        return {0.0, RewardStatus::error, fn.name() + ": unknown exception", false};
    }
}

// Owned jointly by the caller and the scoring thread: whichever finishes last frees it.
struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    RewardResult result;
};

}  // namespace

RewardResult score_with_limit(const std::shared_ptr<const RewardFn>& fn, const RewardInput& in,
                              double timeout_s) {
    if (timeout_s <= 0) return score_catching(*fn, in);
    auto pending = std::make_shared<Pending>();
    std::thread([pending, fn, in] {
        RewardResult r = score_catching(*fn, in);
        std::lock_guard<std::mutex> lock(pending->mu);
        pending->result = std::move(r);
        pending->done = true;
        pending->cv.notify_one();
    }).detach();
    std::unique_lock<std::mutex> lock(pending->mu);
    auto limit = std::chrono::duration<double>(timeout_s);
    if (!pending->cv.wait_for(lock, limit, [&] { return pending->done; }))
        return {0.0, RewardStatus::timeout,
                fn->name() + ": no result within " + std::to_string(timeout_s) + " s", false};
    return pending->result;
}

}  // namespace stride
