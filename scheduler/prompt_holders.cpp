// scheduler/prompt_holders.cpp: see prompt_holders.h.
#include "scheduler/prompt_holders.h"

namespace stride {

std::vector<int64_t> PromptHolders::report(const std::string& worker, const std::string& run,
                                           const std::set<int64_t>& inflight) {
    Holder& h = holders_[worker];
    std::vector<int64_t> lost;
    const bool restarted = !h.run.empty() && !run.empty() && h.run != run;
    if (restarted)
        for (int64_t p : h.prompts)
            if (!inflight.count(p)) lost.push_back(p);
    // The same run: what it no longer reports it put (or gave up on, or skipped as another
    // worker's to resume); nothing of that is lost.
    h.run = run;
    h.prompts = inflight;
    return lost;
}

void PromptHolders::handed(const std::string& worker, int64_t prompt) {
    holders_[worker].prompts.insert(prompt);
}

std::vector<int64_t> PromptHolders::release(const std::string& worker) {
    auto it = holders_.find(worker);
    if (it == holders_.end()) return {};
    std::vector<int64_t> out(it->second.prompts.begin(), it->second.prompts.end());
    holders_.erase(it);
    return out;
}

bool PromptHolders::others_hold_any(const std::string& except) const {
    for (const auto& [worker, h] : holders_)
        if (worker != except && !h.prompts.empty()) return true;
    return false;
}

bool PromptHolders::held_by_anyone(int64_t prompt) const {
    for (const auto& [worker, h] : holders_)
        if (h.prompts.count(prompt)) return true;
    return false;
}

bool RedispatchQueue::add(int64_t prompt) {
    if (!queued_.insert(prompt).second) return false;
    order_.push_back(prompt);
    return true;
}

}  // namespace stride
