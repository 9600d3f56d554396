#include "scheduler/job_config.h"

#include "common/base/error.h"
#include "common/config_schema.h"
#include "common/weight_transport.h"
#include "model/backend.h"
#include "model/transformer.h"
#include "trainer/algorithm.h"

namespace stride {

namespace {

JobConfig complete(ConfigInput in) {
    in.cfg.trainer.algorithm = canonical_algorithm_name(in.cfg.trainer.algorithm);
    check_config_choice("trainer.algorithm", in.cfg.trainer.algorithm, algorithm_names());
    apply_algorithm_presets(in);
    resolve_derived_values(in.cfg);
    resolve_algorithm_values(in.cfg);
    validate_job_config(in.cfg);
    return std::move(in.cfg);
}

}  // namespace

ConfigChoices job_config_choices() {
    return {{"trainer.algorithm", algorithm_names()}};
}

JobConfig parse_job_config(const std::string& yaml_text, const std::string& source,
                           const std::vector<std::string>& overrides) {
    return complete(read_job_config(yaml_text, source, overrides));
}

JobConfig load_job_config(const std::string& path, const std::vector<std::string>& overrides) {
    return parse_job_config(read_job_config_file(path), path, overrides);
}

void validate_job_config(const JobConfig& cfg) {
    check_job_config(cfg, check_algorithm_config);
    check_job_devices(cfg);
    check_weight_transport(cfg);
}

bool nccl_built_in() {
#if defined(STRIDE_HAVE_NCCL)
    return true;
#else
    return false;
#endif
}

void check_weight_transport(const JobConfig& cfg) {
    const std::string why = weight_transport_refusal(cfg, nccl_built_in());
    STRIDE_CHECK(why.empty(), why);
}

void check_job_devices(const JobConfig& cfg) {
    struct Role {
        const char* key;  // the key that chose the device
        const std::string& device;
    };
    const Role rollout{cfg.rollout.device.empty() ? "model.device" : "rollout.device", rollout_device(cfg)};
    const Role trainer{cfg.trainer.device.empty() ? "model.device" : "trainer.device", trainer_device(cfg)};
    for (const Role& r : {rollout, trainer}) {
        const std::string why = device_unavailable_reason(r.device);
        STRIDE_CHECK(why.empty(), std::string(r.key) + ": " + r.device + " requested, but " + why);
    }
    if (trainer.device != "cpu")  // available (checked above), but it must also have every training kernel
        STRIDE_CHECK(
            Transformer::can_train(backend_for_device(trainer.device)),
            std::string(trainer.key) + ": the trainer cannot run on " + trainer.device +
                " yet (this build lacks a backward kernel there: issue #17); set trainer.device: cpu "
                "to generate on the GPU and train on the CPU");
}

}  // namespace stride
