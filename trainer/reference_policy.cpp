#include "trainer/reference_policy.h"

#include <filesystem>

#include "common/base/error.h"
#include "model/checkpoint.h"

namespace stride {

void load_reference_policy(const JobContext& ctx, Model& out) {
    const JobConfig& cfg = ctx.cfg;
    auto load = [&](const std::string& key, const std::string& dir) {
        STRIDE_CHECK(std::filesystem::exists(dir),
                     key + ": " + dir + " does not exist (needed as the KL reference)");
        try {
            checkpoint_load_weights(out, dir);
        } catch (const Error& e) {
            throw Error(key + ": the KL reference: " + e.what());
        }
    };
    if (!cfg.trainer.ref_model.empty()) return load("trainer.ref_model", cfg.trainer.ref_model);
    if (cfg.sft.enabled) return load("sft.enabled", cfg.run_path() + "/sft_model");
    if (!cfg.model.path.empty()) return load("model.path", cfg.model.path);
    model_init_random(out, static_cast<uint64_t>(cfg.model.init.seed));
}

}  // namespace stride
