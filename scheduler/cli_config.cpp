// `stride config keys` (the Markdown table of every key) and `stride config check CONFIG [k=v ...]`
// (load, apply overrides, check the reward name and read the datasets, print the resolved YAML).
#include <cstdio>
#include <string>
#include <vector>

#include "common/config_schema.h"
#include "job/data_gen.h"
#include "reward/registry.h"
#include "scheduler/cli_commands.h"
#include "scheduler/job_config.h"

namespace stride::cli {

namespace {

const char* kConfigUsage =
    "usage: stride config keys                      every config key: type, default, meaning (Markdown)\n"
    "       stride config check CONFIG [key=value ...]  validate and print the resolved config\n";

}  // namespace

int config(int argc, char** argv) {
    std::string sub = argc > 0 ? argv[0] : "";
    if (sub == "keys" && argc == 1) {
        std::fputs(config_keys_markdown(job_config_choices()).c_str(), stdout);
        return 0;
    }
    if (sub == "check" && argc >= 2) {
        std::vector<std::string> overrides(argv + 2, argv + argc);
        JobConfig cfg = load_job_config(argv[1], overrides);
        // The reward spec is known to the reward library, not to common/: build it as the job would
        // (a plug-in loads, code_exec probes its sandbox under reward.code_exec_isolation).
        make_reward(reward_spec_from_config(cfg));
        // Read the data now, so a bad line is reported before anything starts.
        DatasetSplit split = load_job_datasets(cfg);
        std::fputs(dump_job_config(cfg).c_str(), stdout);
        std::fprintf(stderr, "%s: ok (%zu train prompts, %zu eval prompts)\n", argv[1], split.train.size(),
                     split.eval.size());
        return 0;
    }
    if (sub == "--help" || sub == "-h") {
        std::fputs(kConfigUsage, stdout);
        return 0;
    }
    std::fputs(kConfigUsage, stderr);
    return 2;
}

}  // namespace stride::cli
