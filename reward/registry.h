// make_reward: a built-in reward by name, wrapped in the configured shaping and time limit.
//
//   score = correct ? reward.correct : reward.incorrect
//         - reward.format_weight                      if no answer could be extracted (unparseable)
//         + overlong(L)                               DAPO soft overlong punishment, <= 0
//   overlong(L) = -min(max(L - (L_max - B), 0) / B, 1) * reward.overlong_penalty
//   with L = response tokens, L_max = rollout.max_tokens, B = reward.overlong_buffer (0: off).
//   A reward that throws or runs past reward.timeout_s scores reward.incorrect (status error/timeout).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "reward/reward.h"

namespace stride {

struct RewardSpec {
    std::string fn = "exact_match";
    double correct = 1.0;
    double incorrect = 0.0;
    double format_weight = 0.0;
    int overlong_buffer = 0;
    double overlong_penalty = 1.0;
    int max_tokens = 0;      // L_max of the overlong penalty
    double timeout_s = 0.0;  // 0: no limit
};

RewardSpec reward_spec_from_config(const JobConfig& cfg);

std::vector<std::string> builtin_reward_names();  // sorted
// The bare correctness reward. Throws Error "reward.fn: unknown reward 'x' (built-ins: ...)".
std::unique_ptr<RewardFn> make_base_reward(const std::string& name);
// The shaped reward of `spec`; thread-safe to call from many workers.
std::shared_ptr<const RewardFn> make_reward(const RewardSpec& spec);

// The overlong term alone (<= 0), for tests and metrics.
double overlong_penalty(int length, int max_tokens, int buffer, double factor);

}  // namespace stride
