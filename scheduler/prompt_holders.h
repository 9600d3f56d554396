// scheduler/prompt_holders.h: which rollout worker holds which prompt, so that the prompts of a worker
// that is lost (killed, its node gone, silent past network.lost_after_s) are handed to another one
// instead of stalling the job (issue #18).
//
// A worker's holdings are what it reported in flight with its last PromptRequest plus what that
// request was handed. A new run of the same worker id (it restarted) reports what it resumed from its
// saved in-flight records; what its predecessor held beyond that was lost with it. Prompts are counted
// by their number (the "p<N>" of PromptDispatcher::prompt_at).
//
// A group is never restarted while partly stored: the buffer stores a group's samples in one put, so
// a re-dispatched prompt is generated whole by its new holder. If the old holder had put it already
// (its report had not said so yet), the new put is acknowledged as duplicates and not stored again.
#pragma once
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace stride {

class PromptHolders {
   public:
    // A request of `worker` (process run `run`, "" if unnamed) reporting `inflight`: its holdings
    // become `inflight`. Returns the prompts a previous run of the worker held that the new run does
    // not: lost with that run.
    std::vector<int64_t> report(const std::string& worker, const std::string& run,
                                const std::set<int64_t>& inflight);
    void handed(const std::string& worker, int64_t prompt);
    // The worker is gone: everything it held, now held by nobody.
    std::vector<int64_t> release(const std::string& worker);
    // Some worker other than `except` holds a prompt.
    bool others_hold_any(const std::string& except) const;
    bool held_by_anyone(int64_t prompt) const;

   private:
    struct Holder {
        std::string run;
        std::set<int64_t> prompts;
    };
    std::map<std::string, Holder> holders_;
};

// Prompts to hand out again, first come first served, each once until handed.
class RedispatchQueue {
   public:
    bool add(int64_t prompt);  // false when already queued
    bool empty() const { return order_.empty(); }
    size_t size() const { return order_.size(); }
    // Up to `max` prompts that pass `allowed`, removed from the queue in order.
    template <typename Pred>
    std::vector<int64_t> take(int64_t max, Pred allowed) {
        std::vector<int64_t> out;
        for (auto it = order_.begin(); it != order_.end() && static_cast<int64_t>(out.size()) < max;) {
            if (!allowed(*it)) {
                ++it;
                continue;
            }
            out.push_back(*it);
            queued_.erase(*it);
            it = order_.erase(it);
        }
        return out;
    }

   private:
    std::deque<int64_t> order_;
    std::set<int64_t> queued_;
};

}  // namespace stride
