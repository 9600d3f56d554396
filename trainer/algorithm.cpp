// The algorithm table and the config rules it implies (../shared/spec/algorithms.md §1-§7).
#include "trainer/algorithm.h"

#include <fmt/format.h>

#include "common/base/error.h"
#include "common/config_schema.h"

namespace stride {

namespace {

// verl forces the sequence mean: GSPO's objective is a mean over sequences of a sequence ratio.
void check_gspo(const TrainerConfig& t) {
    STRIDE_CHECK(t.loss_agg == "seq_mean_token_mean",
                 "trainer.loss_agg: gspo averages its sequence-level ratio over sequences "
                 "(seq_mean_token_mean), got " +
                     t.loss_agg);
    STRIDE_CHECK(t.dual_clip == 0.0, fmt::format("trainer.dual_clip: gspo has no dual clip (its ratio is a "
                                                 "per-token geometric mean), set it to 0, got {}",
                                                 t.dual_clip));
}

void check_dr_grpo(const TrainerConfig& t) {
    STRIDE_CHECK(!t.norm_adv_by_std,
                 "trainer.norm_adv_by_std: dr_grpo's advantage is not divided by the group std; set it to "
                 "false or use trainer.algorithm = grpo");
}

// A user who turns vcpo's correction off gets no (inert) sequence level with it.
bool is_corrected(const TrainerConfig& t) {
    return t.is_correction != "none";
}

// The estimator discounts per-token returns by trainer.gamma.
bool discounts_token_returns(const Algorithm& a) {
    return a.advantage == AdvantageKind::reinforce_pp || a.advantage == AdvantageKind::gae;
}

// The estimator's baseline is the group mean, which trainer.opob replaces; RLOO, REINFORCE++ and
// PPO have baselines of their own.
bool group_mean_baseline(const Algorithm& a) {
    return a.advantage == AdvantageKind::grpo;
}

// "a, b, c<last>d": the names of the rows that satisfy `pred`, for messages.
template <class Pred>
std::string names_where(Pred pred, const char* last_sep) {
    std::vector<std::string> names;
    for (const Algorithm& a : algorithms())
        if (pred(a)) names.push_back(a.name);
    std::string out;
    for (size_t i = 0; i < names.size(); ++i)
        out += (i == 0 ? "" : i + 1 == names.size() ? last_sep : ", ") + names[i];
    return out;
}

// Keys that only an algorithm with a critic reads: set for another, they would be silently ignored.
void check_critic_keys(const TrainerConfig& t, const Algorithm& a) {
    const TrainerConfig d;
    const std::string with_critic = names_where([](const Algorithm& x) { return x.critic; }, " or ");
    auto only_critic = [&](bool changed, const char* key) {
        STRIDE_CHECK(a.critic || !changed,
                     fmt::format("trainer.{}: only {} has a critic (trainer.algorithm = {}); "
                                 "remove the key or use trainer.algorithm = {}",
                                 key, with_critic, t.algorithm, with_critic));
    };
    only_critic(t.critic != d.critic, "critic");
    only_critic(t.critic_lr != d.critic_lr, "critic_lr");
    only_critic(t.vf_coef != d.vf_coef, "vf_coef");
    only_critic(t.vf_clip != d.vf_clip, "vf_clip");
    only_critic(t.lam != d.lam, "lam");
}

}  // namespace

// The rows, built once on first use.
const std::vector<Algorithm>& algorithms() {
    static const std::vector<Algorithm> table = {
        {.name = "grpo", .advantage = AdvantageKind::grpo, .groups = true},
        // No std division, constant length normaliser.
        {.name = "dr_grpo",
         .advantage = AdvantageKind::grpo,
         .groups = true,
         .presets = {{"trainer.norm_adv_by_std", "false"}, {"trainer.loss_agg", "seq_mean_token_sum_norm"}},
         .check = check_dr_grpo},
        // Clip-higher + dynamic sampling (DAPO paper recipe in verl).
        {.name = "dapo",
         .advantage = AdvantageKind::grpo,
         .groups = true,
         .presets = {{"trainer.clip_high", "0.28"}, {"trainer.dynamic_sampling", "true"}}},
        // Sequence-level ratio: tiny clip range, sequence-mean loss, no dual clip.
        {.name = "gspo",
         .advantage = AdvantageKind::grpo,
         .policy_loss = PolicyLossKind::gspo,
         .groups = true,
         .presets = {{"trainer.clip_low", "0.0003"},
                     {"trainer.clip_high", "0.0004"},
                     {"trainer.loss_agg", "seq_mean_token_mean"},
                     {"trainer.dual_clip", "0"}},
         .check = check_gspo},
        {.name = "rloo", .advantage = AdvantageKind::rloo, .groups = true},
        // REINFORCE++ folds the KL into the token rewards, not the loss.
        {.name = "reinforce_pp",
         .advantage = AdvantageKind::reinforce_pp,
         .kl_in_reward = true,
         .aliases = {"reinforce_plus_plus"}},
        // Group-centred reward, whitened over the batch; its KL stays where trainer.kl_in_reward puts it
        // (a loss term by default, as verl's recipe uses it).
        {.name = "reinforce_pp_baseline",
         .advantage = AdvantageKind::reinforce_pp_baseline,
         .groups = true,
         .aliases = {"reinforce_plus_plus_baseline"}},
        {.name = "ppo", .advantage = AdvantageKind::gae, .critic = true, .aliases = {"gae"}},
        // §7.4 reference settings: GRPO advantages with the OPOB baseline, ESS-scaled lr, sequence-level
        // TIS at 8, sequence-mean loss.
        {.name = "vcpo",
         .advantage = AdvantageKind::grpo,
         .groups = true,
         .presets = {{"trainer.opob", "true"},
                     {"trainer.ess_lr", "sqrt"},
                     {"trainer.loss_agg", "seq_mean_token_mean"},
                     {"trainer.is_correction", "truncate"},
                     {"trainer.is_cap", "8"},
                     {"trainer.is_level", "sequence", is_corrected}}},
    };
    return table;
}

std::vector<std::string> algorithm_names() {
    std::vector<std::string> names;
    for (const Algorithm& a : algorithms()) names.push_back(a.name);
    return names;
}

std::string canonical_algorithm_name(const std::string& name) {
    for (const Algorithm& a : algorithms())
        for (const std::string& alias : a.aliases)
            if (alias == name) return a.name;
    return name;
}

const Algorithm& algorithm_named(const std::string& name) {
    for (const Algorithm& a : algorithms())
        if (a.name == name) return a;
    throw Error("trainer.algorithm: expected one of " +
                names_where([](const Algorithm&) { return true; }, ", ") + ", got \"" + name + "\"");
}

void apply_algorithm_presets(ConfigInput& in) {
    for (const AlgorithmPreset& p : algorithm_named(in.cfg.trainer.algorithm).presets)
        if (!p.applies || p.applies(in.cfg.trainer)) preset_config_value(in, p.key, p.value);
}

void resolve_algorithm_values(JobConfig& cfg) {
    TrainerConfig& t = cfg.trainer;
    if (algorithm_named(t.algorithm).critic && t.critic_lr == 0.0) t.critic_lr = 10 * t.lr;
}

void check_algorithm_config(const JobConfig& c) {
    const TrainerConfig& t = c.trainer;
    const Algorithm& a = algorithm_named(t.algorithm);
    if (a.groups)
        STRIDE_CHECK(c.rollout.n >= 2,
                     fmt::format("rollout.n: {} compares the samples of each prompt, so it needs at "
                                 "least 2, got {}",
                                 t.algorithm, c.rollout.n));
    STRIDE_CHECK(!t.dynamic_sampling || a.groups,
                 "trainer.dynamic_sampling: needs a group algorithm (" +
                     names_where([](const Algorithm& x) { return x.groups; }, ", ") + "), not " +
                     t.algorithm);
    if (a.check) a.check(t);
    check_critic_keys(t, a);
    STRIDE_CHECK(t.ranks == 1 || !a.critic,
                 fmt::format("trainer.ranks: {} ranks do not train a critic yet (trainer.algorithm = {}); "
                             "use trainer.ranks: 1",
                             t.ranks, t.algorithm));
    STRIDE_CHECK(t.gamma == TrainerConfig().gamma || discounts_token_returns(a),
                 fmt::format("trainer.gamma: discounts token returns of {} only; {} uses one outcome "
                             "reward per response",
                             names_where(discounts_token_returns, " and "), t.algorithm));
    STRIDE_CHECK(!t.opob || group_mean_baseline(a), "trainer.opob: replaces the group-mean baseline of " +
                                                        names_where(group_mean_baseline, " or ") + ", not " +
                                                        t.algorithm);
}

}  // namespace stride
