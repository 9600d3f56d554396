#include "scheduler/job_config.h"

#include "common/config_schema.h"
#include "trainer/algorithm.h"

namespace stride {

namespace {

// trainer.algorithm takes the names of the table's rows. Set while static objects are built, so in
// every binary that can load a config (it links this file): `stride config keys` and the schema
// table of the tests list them, and a misspelt algorithm is refused as soon as it is read.
[[maybe_unused]] const bool kAlgorithmChoices = [] {
    set_config_choices("trainer.algorithm", algorithm_names());
    return true;
}();

JobConfig complete(ConfigInput in) {
    apply_algorithm_presets(in);
    resolve_derived_values(in.cfg);
    resolve_algorithm_values(in.cfg);
    validate_job_config(in.cfg);
    return std::move(in.cfg);
}

}  // namespace

JobConfig parse_job_config(const std::string& yaml_text, const std::string& source,
                           const std::vector<std::string>& overrides) {
    return complete(read_job_config(yaml_text, source, overrides));
}

JobConfig load_job_config(const std::string& path, const std::vector<std::string>& overrides) {
    return parse_job_config(read_job_config_file(path), path, overrides);
}

void validate_job_config(const JobConfig& cfg) {
    check_job_config(cfg, check_algorithm_config);
}

}  // namespace stride
