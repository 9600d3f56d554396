// Runs a reward with a time limit and turns exceptions into a status, so one bad sample (a pattern
// that explodes, a plug-in that hangs) cannot stop the loop: the complaint every RL system hears.
#pragma once
#include <memory>

#include "reward/reward.h"

namespace stride {

// status error (detail = the exception's message) when fn throws; status timeout when it runs past
// timeout_s, in which case its thread is left to finish on its own and its result is dropped.
// timeout_s <= 0 runs inline, without a limit.
RewardResult score_with_limit(const std::shared_ptr<const RewardFn>& fn, const RewardInput& in,
                              double timeout_s);

}  // namespace stride
