// `stride config keys` (the Markdown table of every key) and `stride config check CONFIG [k=v ...]`
// (load, apply overrides, check every path the run will open, build the reward, read the datasets,
// print the resolved YAML).
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "common/config_schema.h"
#include "common/gen_spec.h"
#include "job/data_gen.h"
#include "model/cli/parser.h"
#include "reward/composite_reward.h"
#include "reward/plugin/plugin_pool.h"
#include "reward/plugin/python_reward.h"
#include "reward/registry.h"
#include "scheduler/cli_commands.h"
#include "scheduler/job_config.h"

namespace stride::cli {

namespace {

namespace fs = std::filesystem;

const char* kConfigUsage =
    "usage: stride config keys                      every config key: type, default, meaning (Markdown)\n"
    "       stride config check CONFIG [key=value ...]  validate and print the resolved config\n"
    "       stride config from-verl [VERL.yaml] [key=value ...] [-o FILE]  convert a verl config\n";

// "key: what: path" when `path` is not a regular file (or, with dir, not a directory).
void check_path(std::vector<std::string>& problems, const std::string& key, const std::string& path,
                bool dir = false) {
    std::error_code ec;
    const bool ok = dir ? fs::is_directory(path, ec) : fs::is_regular_file(path, ec);
    if (ok) return;
    const bool exists = fs::exists(path, ec);
    problems.push_back(
        key + ": " + path +
        (exists ? (dir ? ": not a directory" : ": not a regular file") : ": no such file or directory"));
}

void throw_problems(const std::vector<std::string>& problems) {
    if (problems.empty()) return;
    std::string msg;
    for (size_t i = 0; i < problems.size(); ++i) msg += (i ? "\n" : "") + problems[i];
    throw Error(msg);
}

// The reward's plug-in and python files (reward.fn), before the reward is built.
void check_reward_paths(const JobConfig& cfg) {
    std::vector<std::string> problems;
    std::vector<RewardTerm> terms;
    try {
        terms = parse_reward_terms(cfg.reward.fn);
    } catch (const Error&) {
        return;  // make_reward reports a malformed spec
    }
    for (const RewardTerm& t : terms) {
        try {
            if (is_plugin_spec(t.fn)) check_path(problems, "reward.fn", parse_plugin_spec(t.fn).path);
            if (is_python_spec(t.fn)) check_path(problems, "reward.fn", parse_python_spec(t.fn).path);
        } catch (const Error&) {
            // malformed: make_reward says how
        }
    }
    throw_problems(problems);
}

// Every other file and directory the run will open, each error naming its key; all of them at once.
void check_job_paths(const JobConfig& cfg) {
    std::vector<std::string> problems;
    if (!cfg.model.path.empty()) {
        check_path(problems, "model.path", cfg.model.path, true);
        if (fs::is_directory(cfg.model.path))
            check_path(problems, "model.path", cfg.model.path + "/config.json");
    }
    if (!cfg.tokenizer.empty())
        check_path(problems, "tokenizer", cfg.tokenizer);
    else if (!cfg.model.path.empty())
        check_path(problems, "tokenizer (default {model.path}/tokenizer.json)",
                   cfg.model.path + "/tokenizer.json");
    for (const std::string& s : dataset_sources(cfg.data.train))
        if (!is_gen_spec(s)) check_path(problems, "data.train", s);
    for (const std::string& s : dataset_sources(cfg.data.eval))
        if (!is_gen_spec(s)) check_path(problems, "data.eval", s);
    throw_problems(problems);
}

int config_check(int argc, char** argv) {
    std::string path;
    std::vector<std::string> overrides;
    Parser p(
        "stride config check CONFIG [key=value ...]",
        "Loads a job config with its overrides, checks every key and every path the run will open\n"
        "(tokenizer, model.path and its config.json, data files, reward plug-in or python files), builds\n"
        "the reward, reads the datasets and prints the resolved config (YAML) on stdout.");
    p.positional("CONFIG", path, "job config (YAML)").positionals("OVERRIDES", overrides, "key=value ...");
    if (!p.parse(argc, argv)) return 0;
    JobConfig cfg = load_job_config(path, overrides);
    check_reward_paths(cfg);
    // The reward spec is known to the reward library, not to common/: build it as the job would
    // (a plug-in loads, code_exec probes its sandbox under reward.code_exec_isolation).
    make_reward(reward_spec_from_config(cfg));
    check_job_paths(cfg);
    // Read the data now, so a bad line is reported before anything starts.
    DatasetSplit split = load_job_datasets(cfg);
    std::fputs(dump_job_config(cfg).c_str(), stdout);
    std::fprintf(stderr, "%s: ok (%zu train prompts, %zu eval prompts)\n", path.c_str(), split.train.size(),
                 split.eval.size());
    return 0;
}

}  // namespace

int config(int argc, char** argv) {
    std::string sub = argc > 0 ? argv[0] : "";
    if (sub == "keys") {
        Parser p("stride config keys", "Prints every config key: type, default, meaning (a Markdown table).");
        if (!p.parse(argc - 1, argv + 1)) return 0;
        std::fputs(config_keys_markdown(job_config_choices()).c_str(), stdout);
        return 0;
    }
    if (sub == "check") return config_check(argc - 1, argv + 1);
    if (sub == "from-verl") return config_from_verl(argc - 1, argv + 1);
    if (sub == "--help" || sub == "-h") {
        std::fputs(kConfigUsage, stdout);
        return 0;
    }
    std::fputs(kConfigUsage, stderr);
    return 2;
}

}  // namespace stride::cli
