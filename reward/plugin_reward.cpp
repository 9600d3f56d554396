#include "reward/plugin_reward.h"

namespace stride {

PluginReward::PluginReward(const std::string& fn, const PluginOptions& opt)
    : name_(fn), pool_(std::make_unique<PluginPool>(parse_plugin_spec(fn), opt)) {}

RewardResult PluginReward::score(const RewardInput& in) const {
    PluginScore p = pool_->score(in.prompt, in.response, in.answer);
    RewardResult r;
    r.status = p.status;
    r.detail = std::move(p.detail);
    r.score = p.status == RewardStatus::ok ? p.score : 0.0;
    r.correct = p.status == RewardStatus::ok && p.score >= 1.0;
    return r;
}

std::unique_ptr<PluginReward> make_plugin_reward(const std::string& fn, const PluginOptions& opt) {
    return std::make_unique<PluginReward>(fn, opt);
}

}  // namespace stride
