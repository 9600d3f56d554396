// RewardFn: scores one sampled response against the reference answer of its prompt.
//
// Built-in functions (reward/builtins.h) say whether the answer is right: score 1 or 0, `correct`,
// and status unparseable when no answer could be extracted at all. make_reward (reward/registry.h)
// wraps one in the configured shaping: correct/incorrect scores, a format penalty for unparseable
// responses, DAPO's soft overlong penalty, and a time limit.
#pragma once
#include <string>

namespace stride {

struct RewardInput {
    std::string prompt;
    std::string response;     // decoded completion, without the EOS token
    std::string answer;       // reference answer from the dataset
    int response_tokens = 0;  // for the length penalty
    bool truncated = false;   // hit rollout.max_tokens without EOS
};

enum class RewardStatus { ok, error, timeout, unparseable };
const char* reward_status_name(RewardStatus s);  // "ok", "error", "timeout", "unparseable"

struct RewardResult {
    double score = 0.0;  // what the advantage sees
    RewardStatus status = RewardStatus::ok;
    std::string detail;    // why, for logs: "expected 861, got 86"
    bool correct = false;  // correctness before shaping (accuracy metrics, DAPO group filter)
};

class RewardFn {
   public:
    virtual ~RewardFn() = default;
    // Must be safe to call from several threads at once (built-ins keep no state).
    virtual RewardResult score(const RewardInput& in) const = 0;
    virtual std::string name() const = 0;
};

}  // namespace stride
