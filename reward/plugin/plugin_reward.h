// PluginReward: the RewardFn of `reward.fn: plugin:path/to/lib.so[:prefix]`, scoring through a
// PluginPool of isolated worker processes (reward/plugin/plugin_pool.h, ABI in reward/stride_reward.h).
#pragma once
#include <memory>
#include <string>

#include "reward/plugin/plugin_pool.h"
#include "reward/reward.h"

namespace stride {

class PluginReward : public RewardFn {
   public:
    PluginReward(const std::string& fn, const PluginOptions& opt);
    // score = the plug-in's raw score (1 full credit, 0 none), correct = score >= 1; a crash, a
    // plug-in error or a timeout comes back as status error/timeout with score 0 (never throws).
    // A batch goes to the workers in one request per worker.
    RewardResult score(const RewardInput& in) const override;
    std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in) const override;
    void cancel() const override { pool_->shutdown(); }
    std::string name() const override { return name_; }
    PluginStats stats() const { return pool_->stats(); }

   private:
    std::string name_;
    std::unique_ptr<PluginPool> pool_;  // score() is const for RewardFn; the pool is thread-safe
};

// Throws Error naming the library when it cannot be loaded (see PluginPool's constructor).
std::unique_ptr<PluginReward> make_plugin_reward(const std::string& fn, const PluginOptions& opt);

}  // namespace stride
