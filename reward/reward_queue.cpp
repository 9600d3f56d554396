#include "reward/reward_queue.h"

#include <algorithm>

#include "common/base/error.h"

namespace stride {

RewardQueue::RewardQueue(std::shared_ptr<const RewardFn> fn, RewardQueueOptions opt)
    : fn_(std::move(fn)),
      capacity_(static_cast<size_t>(std::max(1, opt.capacity))),
      max_batch_(static_cast<size_t>(std::max(1, opt.max_batch))) {
    STRIDE_CHECK(fn_ != nullptr, "reward queue: no reward function");
    for (int i = 0; i < std::max(1, opt.threads); ++i) threads_.emplace_back([this] { score_loop(); });
}

RewardQueue::~RewardQueue() {
    close();
}

void RewardQueue::submit(uint64_t tag, RewardInput in) {
    std::unique_lock<std::mutex> lock(mu_);
    STRIDE_CHECK(!closing_, "reward queue: submit after close");
    if (pending_ >= capacity_) {
        const auto t0 = Clock::now();
        ++full_waits_;
        room_cv_.wait(lock, [&] { return pending_ < capacity_ || closing_; });
        full_wait_s_ += std::chrono::duration<double>(Clock::now() - t0).count();
        STRIDE_CHECK(!closing_, "reward queue: closed while submit waited for room");
    }
    waiting_.push_back(Pending{tag, std::move(in), Clock::now()});
    max_depth_ = std::max(max_depth_, ++pending_);
    lock.unlock();
    work_cv_.notify_one();
}

void RewardQueue::score_loop() {
    for (;;) {
        std::vector<Pending> batch;
        {
            std::unique_lock<std::mutex> lock(mu_);
            work_cv_.wait(lock, [&] { return !waiting_.empty() || closing_; });
            if (waiting_.empty()) return;  // closing, and nothing left to score
            const size_t n = std::min(max_batch_, waiting_.size());
            for (size_t i = 0; i < n; ++i) {
                batch.push_back(std::move(waiting_.front()));
                waiting_.pop_front();
            }
        }
        std::vector<RewardInput> in;
        in.reserve(batch.size());
        for (Pending& p : batch) in.push_back(std::move(p.in));
        std::vector<RewardResult> out;
        try {
            out = fn_->score_batch(in);
        } catch (const std::exception& e) {
            out.clear();  // rewards report failures as a status; a throw must not lose the samples
            RewardResult r;
            r.status = RewardStatus::error;
            r.detail = std::string("reward queue: ") + e.what();
            out.assign(in.size(), r);
        }
        if (out.size() != in.size()) {
            RewardResult r;
            r.status = RewardStatus::error;
            r.detail = "reward queue: " + fn_->name() + " returned " + std::to_string(out.size()) +
                       " results for " + std::to_string(in.size()) + " samples";
            out.assign(in.size(), r);
        }
        const auto now = Clock::now();
        {
            std::lock_guard<std::mutex> lock(mu_);
            for (size_t i = 0; i < batch.size(); ++i)
                done_.push_back(
                    ScoredSample{batch[i].tag, std::move(out[i]),
                                 std::chrono::duration<double>(now - batch[i].submitted).count()});
            pending_ -= batch.size();
        }
        room_cv_.notify_all();
    }
}

std::vector<ScoredSample> RewardQueue::poll() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ScoredSample> out;
    out.swap(done_);
    return out;
}

std::vector<ScoredSample> RewardQueue::drain() {
    std::unique_lock<std::mutex> lock(mu_);
    room_cv_.wait(lock, [&] { return pending_ == 0; });
    std::vector<ScoredSample> out;
    out.swap(done_);
    return out;
}

void RewardQueue::close(double grace_s) {
    std::lock_guard<std::mutex> closing(close_mu_);
    {
        std::unique_lock<std::mutex> lock(mu_);
        closing_ = true;
        work_cv_.notify_all();
        room_cv_.notify_all();  // a submit waiting for room gives up
        if (grace_s >= 0 &&
            !room_cv_.wait_for(lock, std::chrono::duration<double>(grace_s), [&] { return pending_ == 0; })) {
            lock.unlock();
            fn_->cancel();
        }
    }
    for (std::thread& t : threads_)
        if (t.joinable()) t.join();
}

size_t RewardQueue::depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return pending_;
}

size_t RewardQueue::max_depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_depth_;
}

int64_t RewardQueue::full_waits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return full_waits_;
}

double RewardQueue::full_wait_seconds() const {
    std::lock_guard<std::mutex> lock(mu_);
    return full_wait_s_;
}

}  // namespace stride
