#include "reward/plugin/plugin_reward.h"

namespace stride {

PluginReward::PluginReward(const std::string& fn, const PluginOptions& opt)
    : name_(fn), pool_(std::make_unique<PluginPool>(parse_plugin_spec(fn), opt)) {}

RewardResult PluginReward::score(const RewardInput& in) const {
    return pool_->score(in);
}

std::vector<RewardResult> PluginReward::score_batch(const std::vector<RewardInput>& in) const {
    return pool_->score_batch(in);
}

std::unique_ptr<PluginReward> make_plugin_reward(const std::string& fn, const PluginOptions& opt) {
    return std::make_unique<PluginReward>(fn, opt);
}

}  // namespace stride
