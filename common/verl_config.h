// `stride config from-verl`: a verl ppo_trainer config (its YAML, Hydra-style key=value overrides,
// or both) turned into Stride keys, with every verl key it could not map named and why.
//
// verl_tree.cpp reads the verl side (YAML merged with overrides, `${...}` interpolations resolved)
// into flat dotted leaves; verl_rules.cpp holds the rules, one function per concern (data, optimiser,
// loss, KL, reward, ...), each reading verl keys, falling back on verl's documented defaults
// (verl/trainer/config/ppo_trainer.yaml) for the keys it reads, and writing Stride keys.
#pragma once
#include <map>
#include <string>
#include <vector>

namespace stride {

// One verl value: a scalar's text, or a list of scalars. Lists of mappings are kept as `opaque`
// (no rule reads them; they are reported).
struct VerlValue {
    std::string text;
    std::vector<std::string> items;
    bool is_list = false;
    bool is_null = false;
    bool opaque = false;
};

// Dotted verl key ("actor_rollout_ref.actor.optim.lr") -> value, for every leaf given.
using VerlLeaves = std::map<std::string, VerlValue>;

// Reads a verl YAML (may be empty: only overrides, over verl's defaults) and applies Hydra-style
// overrides: `key=value` (value read as YAML), `+key=value`, `++key=value`, `~key`. Resolves
// `${a.b}`, `${.sibling}` and `${oc.select:a.b,default}`. Throws Error naming the source and line.
VerlLeaves read_verl_config(const std::string& yaml_text, const std::string& source,
                            const std::vector<std::string>& overrides);

struct VerlConversion {
    // Stride key -> value text in the form an override takes ("1e-06", "[0.9, 0.999]", "a,b"), in the
    // order the rules set them.
    std::vector<std::pair<std::string, std::string>> keys;
    // "verl.key: why" for each verl key (given, or a verl default that matters) Stride does not follow.
    std::vector<std::string> unmapped;
    // verl keys given that only tune verl's engines (parallelism, memory, logging): nothing to map.
    std::vector<std::string> ignored;
    // verl's trainer.total_epochs when no total_training_steps fixes trainer.steps (0: not needed):
    // the caller, which can read the data, turns it into steps.
    int total_epochs = 0;
    int train_batch_size = 0;  // verl's data.train_batch_size, for that
    // No custom reward function: verl scores each row by its data_source column; the caller, which
    // can read the data, picks the built-in reward that does the same (or reports it).
    bool reward_from_data_source = false;
};

VerlConversion convert_verl_config(const VerlLeaves& given);

// For "unknown key" errors: what a verl key is called here ("" when `key` is not verl's), e.g.
// "verl's actor_rollout_ref.actor.optim.lr is trainer.lr here".
std::string verl_key_hint(const std::string& key);

}  // namespace stride
