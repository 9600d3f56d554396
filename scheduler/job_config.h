// The job config loader: everything that loads a job config calls these. common/config.h reads and
// checks the keys; the algorithm table (trainer/algorithm.h) adds what trainer.algorithm implies (its
// presets for keys left unset, derived values, its rules). common/ knows no algorithm, so the
// complete loader lives here, above both.
#pragma once
#include <string>
#include <vector>

#include "common/config.h"
#include "common/config_schema.h"

namespace stride {

// Reads a YAML file, applies `key.sub=value` overrides in order, fills algorithm presets for keys
// the user did not set, resolves derived values and validates. Throws stride::Error naming the
// dotted key at fault.
JobConfig load_job_config(const std::string& path, const std::vector<std::string>& overrides = {});
// Same from YAML text; `source` names it in messages.
JobConfig parse_job_config(const std::string& yaml_text, const std::string& source,
                           const std::vector<std::string>& overrides = {});

// The allowed values of keys that the layers above common/ define: trainer.algorithm takes the rows
// of the algorithm table. What `stride config keys` lists and what the loader checks.
ConfigChoices job_config_choices();

// Checks ranges of every key and the combinations between keys, the algorithm's included, and the
// devices (check_job_devices). load/parse call it already.
void validate_job_config(const JobConfig& cfg);
// model.device / rollout.device / trainer.device can be used by this binary on this machine: refused
// (Error naming the key) when built without CUDA, when no GPU is visible, or for a trainer on cuda.
void check_job_devices(const JobConfig& cfg);
// weights.transport can be used by this binary with these devices (common/weight_transport.h): nccl
// is refused without NCCL in the binary or with a role on the cpu.
void check_weight_transport(const JobConfig& cfg);
// Whether this binary was built with NCCL (model/nccl/).
bool nccl_built_in();

}  // namespace stride
