// `stride config keys` (the Markdown table of every key) and `stride config check CONFIG [k=v ...]`
// (load, apply overrides, validate everything a run would check up front, print the resolved YAML).
#include <cstdio>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/config_schema.h"
#include "reward/registry.h"
#include "scheduler/cli_commands.h"

namespace stride::cli {

namespace {

const char* kConfigUsage =
    "usage: stride config keys                      every config key: type, default, meaning (Markdown)\n"
    "       stride config check CONFIG [key=value ...]  validate and print the resolved config\n";

}  // namespace

int config(int argc, char** argv) {
    std::string sub = argc > 0 ? argv[0] : "";
    if (sub == "keys" && argc == 1) {
        std::fputs(config_keys_markdown().c_str(), stdout);
        return 0;
    }
    if (sub == "check" && argc >= 2) {
        std::vector<std::string> overrides(argv + 2, argv + argc);
        JobConfig cfg = load_job_config(argv[1], overrides);
        make_base_reward(cfg.reward.fn);  // the reward name is known to the reward library, not to common/
        std::fputs(dump_job_config(cfg).c_str(), stdout);
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
