// The built-in correctness rewards. Each scores 1 (correct) or 0, and reports status unparseable
// when the response holds no answer in the expected form.
//
//   exact_match  trimmed response == trimmed answer
//   arith        the quickstart task: the response is exactly the answer's digits (lowest first)
//   math         final answer vs the label's, equal as math (reward/math/math_verify.h)
//   gsm8k        number after the last "####" vs the answer's (commas, $ ignored)
//   collatz      the integers of the response == the trajectory in the answer
#pragma once
#include <memory>

#include "reward/reward.h"

namespace stride {

std::unique_ptr<RewardFn> make_exact_match_reward();
std::unique_ptr<RewardFn> make_arith_reward();
std::unique_ptr<RewardFn> make_math_reward();
std::unique_ptr<RewardFn> make_gsm8k_reward();
std::unique_ptr<RewardFn> make_collatz_reward();

// Whitespace trimmed from both ends (shared by the built-ins).
std::string trim_reward_text(const std::string& s);

}  // namespace stride
