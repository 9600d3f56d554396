// `stride run CONFIG [key=value ...]` and `stride eval CONFIG checkpoint=DIR [key=value ...]`.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "common/base/parallel.h"
#include "job/evaluate.h"
#include "job/job_context.h"
#include "model/checkpoint.h"
#include "model/cli/parser.h"
#include "scheduler/cli_commands.h"
#include "scheduler/job.h"
#include "scheduler/job_config.h"

namespace stride::cli {

namespace {

// Set by SIGINT/SIGTERM; the job polls it and stops cleanly (checkpoint, nothing lost).
std::atomic<bool> g_stop{false};

void on_signal(int) {
    g_stop = true;
}

// `arg` as one shell word.
std::string shell_word(const std::string& arg) {
    const bool plain = !arg.empty() && arg.find_first_not_of(
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                           "0123456789_./=:,+-@%") == std::string::npos;
    if (plain) return arg;
    std::string q = "'";
    for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

// The command line that continues a stopped run: this one, with resume=auto in place of any resume= or
// overwrite= it had.
std::string resume_command(int argc, char** argv) {
    std::vector<std::string> words;
    std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
    for (std::string w; std::getline(cmdline, w, '\0');) words.push_back(w);
    if (words.size() < 2 + static_cast<size_t>(argc)) {  // not as expected: rebuild it
        words = {"stride", "run"};
        words.insert(words.end(), argv, argv + argc);
    }
    std::string cmd;
    for (const std::string& w : words) {
        if (w.rfind("resume=", 0) == 0 || w.rfind("overwrite=", 0) == 0) continue;
        cmd += shell_word(w) + " ";
    }
    return cmd + "resume=auto";
}

}  // namespace

int run(int argc, char** argv) {
    std::string config_path;
    std::vector<std::string> overrides;
    Parser p("stride run CONFIG [key=value ...]",
             "Runs an RL job: a YAML config, with dotted-key overrides (trainer.lr=1e-4 name=foo). Keys:\n"
             "stride config keys; check a config without running it: stride config check CONFIG.");
    p.positional("CONFIG", config_path, "job config (YAML)")
        .positionals("OVERRIDES", overrides, "key=value ...");
    if (!p.parse(argc, argv)) return 0;
    JobConfig cfg = load_job_config(config_path, overrides);
    if (cfg.blas_kernels == "portable") use_portable_blas_kernels();  // may re-execute
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    const int rc = run_job(cfg, g_stop);
    if (g_stop)
        std::fprintf(stderr, "stopped; to resume this run:\n  %s\n", resume_command(argc, argv).c_str());
    return rc;
}

int eval(int argc, char** argv) {
    std::string config_path;
    std::vector<std::string> args;
    Parser p("stride eval CONFIG checkpoint=DIR [samples=N] [out=FILE] [key=value ...]",
             "Greedy and sampled accuracy/reward of an HF checkpoint on the job's eval split, as JSON.");
    p.positional("CONFIG", config_path, "job config (YAML)")
        .positionals("ARGS", args,
                     "checkpoint=DIR (required), samples=N (sampled passes, default 1), out=FILE, key=value "
                     "overrides");
    if (!p.parse(argc, argv)) return 0;
    std::vector<std::string> overrides;
    std::string checkpoint, out_path;
    int samples = 1;
    for (const std::string& a : args) {
        if (a.rfind("checkpoint=", 0) == 0)
            checkpoint = a.substr(11);
        else if (a.rfind("out=", 0) == 0)
            out_path = a.substr(4);
        else if (a.rfind("samples=", 0) == 0) {
            const std::string v = a.substr(8);
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            STRIDE_CHECK(!v.empty() && *end == '\0' && n > 0 && n <= 1000000,
                         "samples expects a positive integer, got '" + v + "'");
            samples = static_cast<int>(n);
        } else
            overrides.push_back(a);
    }
    if (checkpoint.empty()) throw Error("eval: checkpoint=DIR is required (an HF checkpoint directory)");
    JobConfig cfg = load_job_config(config_path, overrides);
    if (cfg.blas_kernels == "portable") use_portable_blas_kernels();  // may re-execute
    JobContext ctx = make_job_context(cfg);
    Model model = checkpoint_load(checkpoint);
    EvalOptions eo;
    eo.max_tokens = cfg.rollout.max_tokens;
    eo.stop_tokens = ctx.stop_tokens;
    eo.temperature = 0.0f;
    EvalResult greedy = evaluate(model, ctx.tokenizer, *ctx.reward, ctx.eval, eo);
    double sampled_acc = 0, sampled_reward = 0;
    eo.temperature = static_cast<float>(cfg.rollout.temperature);
    for (int s = 0; s < samples; ++s) {
        eo.seed = static_cast<uint64_t>(cfg.seed) + 1000u * s;
        EvalResult r = evaluate(model, ctx.tokenizer, *ctx.reward, ctx.eval, eo);
        sampled_acc += r.accuracy / samples;
        sampled_reward += r.reward_mean / samples;
    }
    nlohmann::json j = {{"checkpoint", checkpoint},
                        {"prompts", greedy.n},
                        {"greedy",
                         {{"accuracy", greedy.accuracy},
                          {"reward_mean", greedy.reward_mean},
                          {"response_length_mean", greedy.response_length_mean}}},
                        {"sampled",
                         {{"temperature", cfg.rollout.temperature},
                          {"samples_per_prompt", samples},
                          {"accuracy", sampled_acc},
                          {"reward_mean", sampled_reward}}}};
    const std::string text = j.dump(2);
    std::printf("%s\n", text.c_str());
    if (!out_path.empty()) {
        std::ofstream out(out_path);
        out << text << "\n";
        STRIDE_CHECK(out.good(), "eval: cannot write " + out_path);
    }
    return 0;
}

}  // namespace stride::cli
