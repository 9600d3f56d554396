// `stride config from-verl [VERL.yaml] [key=value ...] [-o stride.yaml]`: a verl ppo_trainer config
// (a YAML, Hydra-style overrides, or both) as a Stride config. The rules live in common/verl_*.cpp;
// here the data is counted (verl's total_epochs -> trainer.steps), the result is loaded as any job
// config would be (so what is written always loads), and every verl key not mapped is listed.
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "common/config.h"
#include "common/gen_spec.h"
#include "common/verl_config.h"
#include "job/dataset.h"
#include "model/cli/parser.h"
#include "scheduler/cli_commands.h"
#include "scheduler/job_config.h"

namespace stride::cli {

namespace {

std::string value_of(const VerlConversion& c, const std::string& key) {
    for (const auto& [k, v] : c.keys)
        if (k == key) return v;
    return "";
}

// What the training rows say: how many, and which data_source values they carry.
struct TrainRows {
    int64_t count = 0;
    std::set<std::string> data_sources;
};

TrainRows read_train_rows(const std::string& train) {
    TrainRows t;
    for (const std::string& f : dataset_sources(train))
        for_each_dataset_row(f, -1, [&](const nlohmann::ordered_json& row, const std::string&) {
            ++t.count;
            auto it = row.find("data_source");
            t.data_sources.insert(it != row.end() && it->is_string() ? it->get<std::string>() : "");
            return true;
        });
    return t;
}

// verl runs total_epochs x floor(rows / train_batch_size) steps (its loader drops the last partial
// batch).
void epochs_to_steps(VerlConversion& c, const TrainRows& rows) {
    if (c.total_epochs <= 0) return;
    const int64_t per_epoch = c.train_batch_size > 0 ? rows.count / c.train_batch_size : 0;
    STRIDE_CHECK(per_epoch > 0, "data.train_batch_size " + std::to_string(c.train_batch_size) +
                                    " is more than the " + std::to_string(rows.count) +
                                    " training rows: verl would run no step");
    c.keys.emplace_back("trainer.steps", std::to_string(per_epoch * c.total_epochs));
}

// Without a custom reward verl scores each row by its data_source (default_compute_score); the
// built-in reward that scores the same way, when every row names one.
std::string builtin_for(const std::set<std::string>& sources) {
    const std::map<std::string, std::string> same_scorer = {{"openai/gsm8k", "gsm8k"},
                                                            {"lighteval/MATH", "math"},
                                                            {"DigitalLearningGmbH/MATH-lighteval", "math"},
                                                            {"HuggingFaceH4/MATH-500", "math"}};
    std::string fn;
    for (const std::string& s : sources) {
        auto it = same_scorer.find(s);
        if (it == same_scorer.end() || (!fn.empty() && fn != it->second)) return "";
        fn = it->second;
    }
    return fn;
}

// The parts of the conversion that need the data: steps from epochs, the reward from data_source.
void convert_with_data(VerlConversion& c) {
    if (c.total_epochs <= 0 && !c.reward_from_data_source) return;
    TrainRows rows;
    try {
        rows = read_train_rows(value_of(c, "data.train"));
    } catch (const Error& e) {
        const std::string why = std::string("the training data cannot be read here (") + e.what() + ")";
        if (c.total_epochs > 0)
            c.unmapped.push_back("trainer.total_epochs: " + std::to_string(c.total_epochs) + " epochs, but " +
                                 why + "; set trainer.steps = epochs x floor(rows / data.train_batch_size)");
        if (c.reward_from_data_source)
            c.unmapped.push_back("custom_reward_function.path: null, verl scores by data_source, but " + why +
                                 "; set reward.fn");
        return;
    }
    epochs_to_steps(c, rows);
    if (!c.reward_from_data_source) return;
    const std::string fn = builtin_for(rows.data_sources);
    if (!fn.empty()) {
        c.keys.emplace_back("reward.fn", fn);
        return;
    }
    std::string names;
    for (const std::string& s : rows.data_sources) names += (names.empty() ? "" : ", ") + ("'" + s + "'");
    c.unmapped.push_back("custom_reward_function.path: null, verl scores by data_source (" + names +
                         "), which no built-in reward matches; set reward.fn (python:FILE.py:compute_score)");
}

std::string comment_lines(const std::string& title, const std::vector<std::string>& lines) {
    if (lines.empty()) return "";
    std::string out = "# " + title + "\n";
    for (const std::string& l : lines) out += "#   " + l + "\n";
    return out;
}

// The converted keys, loaded and checked as `stride run` would, written in schema order.
std::string stride_yaml(const VerlConversion& c, const std::string& source) {
    std::vector<std::string> overrides;
    for (const auto& [k, v] : c.keys) overrides.push_back(k + "=" + v);
    ConfigInput in = read_job_config("", source, overrides);
    const std::string yaml = dump_job_config_keys(in.cfg, in.given);
    try {
        const JobConfig cfg = parse_job_config(yaml, source);
        return "# Converted by `stride config from-verl` from " + source + ".\n" +
               dump_job_config_keys(cfg, in.given) +
               comment_lines("verl keys not mapped (the run may differ from verl's):", c.unmapped) +
               comment_lines("verl engine settings ignored (speed, memory, parallelism, logging):",
                             c.ignored);
    } catch (const Error& e) {
        throw Error(std::string("the converted config does not load: ") + e.what() + "\n" +
                    comment_lines("verl keys not mapped:", c.unmapped));
    }
}

}  // namespace

int config_from_verl(int argc, char** argv) {
    std::vector<std::string> args, overrides;
    std::string out = "-", file;
    std::vector<char*> argv2(argv, argv + argc);
    static char long_out[] = "--out";
    for (char*& a : argv2)
        if (std::string(a) == "-o") a = long_out;  // the short spelling of --out
    Parser p("stride config from-verl [VERL.yaml] [key=value ...] [-o stride.yaml]",
             "Converts a verl ppo_trainer config (a YAML, Hydra-style key=value overrides as given to\n"
             "verl.trainer.main_ppo, or both) into a Stride config. Keys not given take verl's defaults.\n"
             "Every verl key that could not be mapped is listed in the output (and on stderr).");
    p.positionals("ARGS", args, "a verl YAML and/or key=value, +key=value, ~key overrides")
        .flag("out", out, "output file, -o FILE (-: stdout)");
    if (!p.parse(static_cast<int>(argv2.size()), argv2.data())) return 0;
    for (const std::string& a : args) {
        if (a.find('=') != std::string::npos || a.rfind("~", 0) == 0) {
            overrides.push_back(a);
            continue;
        }
        STRIDE_CHECK(file.empty(), "two verl configs given: " + file + " and " + a);
        file = a;
    }
    STRIDE_CHECK(!file.empty() || !overrides.empty(), "give a verl YAML or key=value overrides");
    const std::string source = file.empty() ? "verl overrides" : file;
    VerlConversion c = convert_verl_config(
        read_verl_config(file.empty() ? "" : read_job_config_file(file), source, overrides));
    convert_with_data(c);
    const std::string yaml = stride_yaml(c, source);
    if (out == "-") {
        std::fputs(yaml.c_str(), stdout);
    } else {
        std::ofstream f(out);
        STRIDE_CHECK(f << yaml, out + ": cannot write");
    }
    std::fprintf(stderr, "%s: %zu Stride keys, %zu verl keys not mapped, %zu engine settings ignored\n",
                 source.c_str(), c.keys.size(), c.unmapped.size(), c.ignored.size());
    for (const std::string& u : c.unmapped) std::fprintf(stderr, "  not mapped: %s\n", u.c_str());
    return 0;
}

}  // namespace stride::cli
