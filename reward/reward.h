// RewardFn: scores one sampled response against the reference answer of its prompt.
//
// Built-in functions (reward/builtins.h) say whether the answer is right: score 1 or 0, `correct`,
// and status unparseable when no answer could be extracted at all. make_reward (reward/registry.h)
// wraps one in the configured shaping: correct/incorrect scores, a format penalty for unparseable
// responses, DAPO's soft overlong penalty, and a time limit.
#pragma once
#include <string>
#include <vector>

namespace stride {

struct RewardInput {
    std::string prompt;
    std::string response;     // decoded completion, without the EOS token
    std::string answer;       // reference answer from the dataset
    int response_tokens = 0;  // for the length penalty
    bool truncated = false;   // hit rollout.max_tokens without EOS
    // For plug-ins and Python functions (verl's compute_score arguments); built-ins ignore them.
    std::string data_source;      // the dataset of the prompt; "" when unknown
    std::string extra_info_json;  // per-prompt extras: a JSON object, or "" for none
    // The answer as JSON text when the dataset's ground truth is not a string (a number, a list, an
    // object): Python rewards get it with its type; "" for a string one. Last, so that positional
    // initialisers of the fields above stay valid.
    std::string answer_json;
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
    // Results in input order. Plug-in and Python rewards send a batch to their worker processes in
    // one round trip per worker; the default scores one sample after the other.
    virtual std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in) const {
        std::vector<RewardResult> out;
        out.reserve(in.size());
        for (const RewardInput& x : in) out.push_back(score(x));
        return out;
    }
    // For shutting down while a call may never return (a plug-in without time limit): calls in
    // progress return soon with status error, and so does every later call. Built-ins return within
    // microseconds and have nothing to cancel.
    virtual void cancel() const {}
    virtual std::string name() const = 0;
};

}  // namespace stride
