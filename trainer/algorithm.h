// The algorithm table: one row per value of trainer.algorithm, the only place an algorithm is
// named. A row gives the advantage estimator and policy loss RlTrainer runs, what the algorithm
// needs (groups of samples per prompt, a learned critic, its KL in the reward), the keys it presets
// and the rules it adds to config validation. The job config loader (scheduler/job_config.h) applies
// the presets and rules; TrainerRole reads the estimator and loss. Adding an algorithm = one row here
// + its math (advantage.h, policy_loss.h, rl_step.cpp). Formulas: ../shared/spec/algorithms.md.
#pragma once
#include <string>
#include <vector>

#include "common/config.h"
#include "trainer/rl_step.h"

namespace stride {

// A key the algorithm implies, set only when the user left it unset.
struct AlgorithmPreset {
    const char* key;    // dotted config key
    const char* value;  // YAML text, typed by the schema
    // nullptr: always; otherwise only when it holds for the config as preset so far.
    bool (*applies)(const TrainerConfig&) = nullptr;
};

struct Algorithm {
    const char* name;  // the value of trainer.algorithm
    AdvantageKind advantage = AdvantageKind::grpo;
    PolicyLossKind policy_loss = PolicyLossKind::ppo_clip;
    bool groups = false;        // its advantage compares the samples of a prompt: rollout.n >= 2
    bool critic = false;        // a learned critic (trainer.critic*, lam, vf_*; critic_lr resolved)
    bool kl_in_reward = false;  // the KL to the reference is always a reward term, whatever
                                // trainer.kl_in_reward says (a reference exists iff kl_coef > 0)
    std::vector<AlgorithmPreset> presets = {};
    void (*check)(const TrainerConfig&) = nullptr;  // rules of this algorithm alone
    std::vector<std::string> aliases = {};          // verl's adv_estimator names for it
};

// Every row, in the order `stride config keys` lists them.
const std::vector<Algorithm>& algorithms();
std::vector<std::string> algorithm_names();
// `name`, or the row an alias of it names (verl's "gae" -> "ppo").
std::string canonical_algorithm_name(const std::string& name);
// The row of trainer.algorithm = `name`; throws Error naming trainer.algorithm when there is none.
const Algorithm& algorithm_named(const std::string& name);

// Presets of in.cfg's algorithm for the keys the user left unset, in the row's order.
void apply_algorithm_presets(ConfigInput& in);
// Values the algorithm derives from other keys (a critic's critic_lr 0 -> 10 x trainer.lr).
void resolve_algorithm_values(JobConfig& cfg);
// The rules that tie keys to the algorithm (group size, dynamic sampling, keys of another family,
// the row's own check); throws Error naming the key to change. An AlgorithmRules for
// check_job_config.
void check_algorithm_config(const JobConfig& cfg);

}  // namespace stride
