// Sync vs async vs async + segments on a long-tailed workload (issue 5's proof).
//
//   build/bin/bench_async [--steps 30] [--seeds 1] [--first-seed 1] [--segment 32] [--warm DIR] [--config
//   FILE]
//                         [--set "key=value ..."]
//
// --set adds config overrides to every mode (the mode's own keys win: sync stays at max_staleness 0), e.g.
// --set trainer.algorithm=dapo: DAPO's dynamic sampling drops the groups whose samples are all right or all
// wrong, so rollout generates several prompts per trained one (as in long-CoT RL, where generation is most of
// a step) and sync pays one tail per round.
//
// configs/bench_async.yaml: countdown answers with a heavy length tail, rollout pinned to CPU 0 and the
// trainer to CPU 1 (identical resources in every mode). A warm start (SFT) is made under
// runs/<config name>_warm/ (or --warm DIR, an HF checkpoint) and every mode starts from it; it is kept
// for later runs with a key (runs/<config name>_warm/warm_key.json: hashes of the config text it
// depends on and of the stride binary) and made again when the key differs. Each mode
// runs the same number of trainer steps with `stride run`; the bench reads metrics.jsonl and
// run_summary.json. Steady-state time = the trainer's wall time over steps 2..N (step 1 holds start-up
// and the first eval). Last line: "async+segments vs sync: X.XXx faster (goal 2.5x) ...".
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Mode {
    std::string name, overrides;
};

struct Result {
    double steady_s = 0, step_s = 0, trainer_idle = 0, rollout_idle = 0, occupancy = 0;
    double gen_s = 0, train_s = 0;  // per step: trainer waiting (rollout) and training
    double rollout_busy_s = 0;      // per step: rollout decoding (1 - rollout idle share of a step)
    double tokens = 0;              // response tokens trained over the steady steps
    double final_eval = -1, reward_tail = 0, staleness_max = 0;
};

std::string self_dir() {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0) return ".";
    std::string p(buf, n);
    return p.substr(0, p.rfind('/'));
}

bool exists(const std::string& p) {
    struct stat st;
    return stat(p.c_str(), &st) == 0;
}

void run_or_die(const std::string& cmd) {
    std::fprintf(stderr, "$ %s\n", cmd.c_str());
    if (std::system(cmd.c_str()) != 0) {
        std::fprintf(stderr, "bench_async: command failed: %s\n", cmd.c_str());
        std::exit(1);
    }
}

// FNV-1a 64 over bytes, continuing from h.
uint64_t fnv1a(const std::string& bytes, uint64_t h = 0xcbf29ce484222325ull) {
    for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ull;
    return h;
}

std::string hex64(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The config text a warm start depends on: every line but comments, blank lines and the blocks that
// only shape RL (trainer, buffer, placement, log), with rollout reduced to max_tokens (it bounds the
// SFT's greedy evals). The tokenizer file's bytes are hashed in as well.
std::string warm_config_text(const std::string& cfg) {
    std::ifstream in(cfg);
    std::string line, out, block, tokenizer;
    while (std::getline(in, line)) {
        if (!line.empty() && line[0] == '#') continue;
        const size_t hash = line.find(" #");
        if (hash != std::string::npos) line.erase(hash);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
        if (line.empty()) continue;
        if (line[0] != ' ') block = line.substr(0, line.find(':'));
        if (block == "trainer" || block == "buffer" || block == "placement" || block == "log") continue;
        if (block == "rollout" && line[0] == ' ' && line.find("max_tokens:") == std::string::npos) continue;
        if (block == "tokenizer") tokenizer = line.substr(line.find(':') + 1);
        out += line + "\n";
    }
    tokenizer.erase(0, tokenizer.find_first_not_of(" \"'"));
    tokenizer.erase(tokenizer.find_last_not_of(" \"'") + 1);
    if (!tokenizer.empty()) out += "tokenizer bytes " + hex64(fnv1a(read_all(tokenizer))) + "\n";
    return out;
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&t));
    return buf;
}

// The warm start under runs/<stem>_warm is reused only when its key (warm_key.json: a hash of the
// config text above and of the stride binary's bytes) matches this run's; otherwise it is made again,
// so a warm start left by an older build or another config never hides what changed since.
std::string warm_start(const std::string& stride, const std::string& cfg, const std::string& stem) {
    const std::string dir = "runs/" + stem + "_warm", model = dir + "/sft_model",
                      key_path = dir + "/warm_key.json";
    const std::string config_hash = hex64(fnv1a(warm_config_text(cfg)));
    const std::string binary_hash = hex64(fnv1a(read_all(stride)));
    std::string why;
    if (!exists(model + "/config.json")) {
        why = "no warm start yet";
    } else if (!exists(key_path)) {
        why = "the warm start has no key (made by an older bench_async)";
    } else {
        std::ifstream kin(key_path);
        const auto key = nlohmann::json::parse(kin, nullptr, false);
        if (!key.is_object() || !key.contains("config_hash") || !key.contains("binary_hash"))
            why = "its key file is unreadable";
        else if (key["config_hash"] != config_hash)
            why = "the config changed (warm-start keys of " + cfg + ")";
        else if (key["binary_hash"] != binary_hash)
            why = "the stride binary changed";
        else {
            std::printf(
                "bench_async: reusing the warm start %s (made %s, %s SFT steps, same config and stride "
                "binary)\n",
                model.c_str(), key.value("made", std::string("?")).c_str(),
                key.contains("sft_steps") ? key["sft_steps"].dump().c_str() : "?");
            std::fflush(stdout);
            return model;
        }
    }
    std::printf("bench_async: rebuilding the warm start %s: %s\n", model.c_str(), why.c_str());
    std::fflush(stdout);
    std::filesystem::remove_all(dir);  // a fresh run: no resumed checkpoint, no appended SFT metrics
    const auto t0 = std::chrono::steady_clock::now();
    run_or_die(stride + " run " + cfg + " name=" + stem + "_warm trainer.steps=1 > /dev/null");
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long sft_steps = 0;
    double acc = -1;
    std::ifstream sft(dir + "/sft_metrics.jsonl");
    for (std::string line; std::getline(sft, line);) {
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object()) continue;
        sft_steps = j.value("sft_step", sft_steps);
        if (j.contains("eval/accuracy")) acc = j["eval/accuracy"].get<double>();
    }
    nlohmann::json key = {{"config", cfg},
                          {"config_hash", config_hash},
                          {"stride", stride},
                          {"binary_hash", binary_hash},
                          {"made", utc_now()},
                          {"sft_steps", sft_steps},
                          {"sft_eval_accuracy", acc},
                          {"seconds", secs}};
    std::ofstream(key_path) << key.dump(2) << "\n";
    std::printf("bench_async: warm start made in %.0f s: %ld SFT steps, greedy eval accuracy %.3f\n", secs,
                sft_steps, acc);
    std::fflush(stdout);
    return model;
}

Result read_run(const std::string& run) {
    Result r;
    std::ifstream in(run + "/metrics.jsonl");
    std::string line;
    std::vector<nlohmann::json> steps;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("step")) steps.push_back(j);
    }
    double wait = 0, busy = 0, rew = 0;
    int rew_n = 0;
    for (size_t i = 0; i < steps.size(); ++i) {
        const auto& j = steps[i];
        if (j.contains("eval/accuracy")) r.final_eval = j["eval/accuracy"].get<double>();
        r.staleness_max = std::max(r.staleness_max, j.value("staleness/max", 0.0));
        if (i == 0) continue;
        wait += j.value("time/wait_s", 0.0);
        busy += j.value("time/step_s", 0.0);
        r.tokens += j.value("response_tokens", 0.0);
        if (i + 5 >= steps.size()) rew += j.value("reward/mean", 0.0), ++rew_n;
    }
    const double n = std::max<size_t>(1, steps.size() - 1);
    r.steady_s = wait + busy;
    r.step_s = r.steady_s / n;
    r.gen_s = wait / n;
    r.train_s = busy / n;
    r.trainer_idle = r.steady_s > 0 ? wait / r.steady_s : 0;
    r.reward_tail = rew_n ? rew / rew_n : 0;
    std::ifstream sj(run + "/run_summary.json");
    auto s = nlohmann::json::parse(sj, nullptr, false);
    if (s.is_object()) {
        r.rollout_idle = s["rollout_idle_s"].get<double>() / std::max(1e-9, s["wall_s"].get<double>());
        r.occupancy = s["mean_batch_seqs"].get<double>();
    }
    r.rollout_busy_s = (1.0 - r.rollout_idle) * r.step_s;
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::map<std::string, std::string> a = {
        {"steps", "30"},   {"seeds", "1"}, {"first-seed", "1"},  // more seeds later: --first-seed 4
        {"segment", "32"}, {"warm", ""},   {"config", "configs/bench_async.yaml"},
        {"set", ""}};
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        if (k.rfind("--", 0) != 0 || !a.count(k.substr(2))) {
            std::fprintf(
                stderr,
                "usage: bench_async [--steps 30] [--seeds 1] [--first-seed 1] [--segment 32] [--warm DIR] "
                "[--config FILE] [--set \"key=value ...\"]\n");
            return 2;
        }
        a[k.substr(2)] = argv[i + 1];
    }
    const std::string stride = self_dir() + "/stride", cfg = a["config"];
    // Run names follow the config's file name, so each workload keeps its own warm start.
    std::string stem = cfg.substr(cfg.rfind('/') + 1);
    stem = stem.substr(0, stem.rfind('.'));
    std::string warm = a["warm"];
    if (warm.empty())
        warm = warm_start(stride, cfg, stem);
    else
        std::printf("bench_async: using the warm start %s as given (--warm)\n", warm.c_str());
    // Every mode starts from the warm start: the config without its model and sft blocks, model.path set.
    const std::string derived = "runs/" + stem + "_from_warm.yaml";
    {
        std::ifstream in(cfg);
        std::ofstream out(derived);
        std::string line;
        bool in_model = false;
        while (std::getline(in, line)) {
            const bool top = !line.empty() && line[0] != ' ' && line[0] != '#';
            if (top) in_model = line.rfind("model:", 0) == 0 || line.rfind("sft:", 0) == 0;
            if (!in_model) out << line << "\n";
        }
        out << "model:\n  path: " << warm << "\nsft:\n  enabled: false\n";
        if (!out) {
            std::fprintf(stderr, "bench_async: cannot write %s\n", derived.c_str());
            return 1;
        }
    }
    const std::vector<Mode> modes = {
        {"sync", "rollout.mode=sync buffer.max_staleness=0"},
        {"async", "rollout.mode=async"},
        {"async+segments", "rollout.mode=async rollout.segment_tokens=" + a["segment"]},
    };
    const int seeds = std::max(1, std::atoi(a["seeds"].c_str()));
    std::map<std::string, std::vector<Result>> res;
    const int first_seed = std::atoi(a["first-seed"].c_str());
    for (int seed = first_seed; seed < first_seed + seeds; ++seed) {
        for (const Mode& m : modes) {
            std::string name = stem + "_" + m.name + "_s" + std::to_string(seed);
            std::replace(name.begin(), name.end(), '+', '_');
            run_or_die(stride + " run " + derived + " overwrite=true name=" + name +
                       " seed=" + std::to_string(seed) + " trainer.steps=" + a["steps"] + " " + a["set"] +
                       " " + m.overrides + " > runs/" + name + ".log 2>&1");
            res[m.name].push_back(read_run("runs/" + name));
        }
    }
    std::printf("%-16s %9s %8s %8s %8s %9s %9s %10s %10s %9s\n", "mode", "steady s", "s/step", "gen s",
                "train s", "trainer", "rollout", "occupancy", "final", "reward");
    std::printf("%-16s %9s %8s %8s %8s %9s %9s %10s %10s %9s\n", "", "", "", "", "", "idle", "idle",
                "seqs/step", "eval acc", "last 5");
    std::map<std::string, double> mean_steady, mean_eval, wall_sum, token_sum;
    for (const Mode& m : modes) {
        for (size_t s = 0; s < res[m.name].size(); ++s) {
            const Result& r = res[m.name][s];
            std::printf("%-16s %9.1f %8.2f %8.2f %8.2f %8.0f%% %8.0f%% %10.1f %10.3f %9.3f  (seed %zu)\n",
                        m.name.c_str(), r.steady_s, r.step_s, r.gen_s, r.train_s, 100 * r.trainer_idle,
                        100 * r.rollout_idle, r.occupancy, r.final_eval, r.reward_tail, s + first_seed);
            mean_steady[m.name] += r.steady_s / res[m.name].size();
            mean_eval[m.name] += r.final_eval / res[m.name].size();
            wall_sum[m.name] += r.steady_s;
            token_sum[m.name] += r.tokens;
        }
    }
    // The ceiling: a synchronous step is rollout (the trainer waits) + training. Overlap alone can at
    // best hide the shorter of the two; removing the tail as well can at best leave the slower role's
    // own work per step: training at its fastest measured cost, or decoding at the least rollout busy
    // time per step of an async mode (a rollout that never idles; with dynamic sampling rollout is the
    // slower role). The trainer's step time differs between modes because its cost is
    // per token and the modes train different mixes within N steps: sync trains prompts in order, the
    // async modes train groups in the order they complete (short ones first, the long ones later), so
    // the time per trained token is printed as well.
    double g = 0, t = 0, t_min = 1e30, r_min = 1e30;
    for (const Result& r : res["sync"]) g += r.gen_s / seeds, t += r.train_s / seeds;
    for (const auto& [mode, rs] : res)
        for (const Result& r : rs) {
            t_min = std::min(t_min, r.train_s);
            if (mode != "sync") r_min = std::min(r_min, r.rollout_busy_s);
        }
    std::printf(
        "ceiling from per-step times (sync: rollout %.2f s + train %.2f s; fastest train %.2f s, least async "
        "rollout busy %.2f s): overlap alone %.2fx, overlap + no tail %.2fx\n",
        g, t, t_min, r_min, (g + t) / std::max(g, t), (g + t) / std::max(1e-9, std::max(t_min, r_min)));
    auto per_token = [&](const std::string& m) { return wall_sum[m] / std::max(1.0, token_sum[m]); };
    std::printf("per trained token (ms): sync %.4f, async %.4f, async+segments %.4f -> %.2fx and %.2fx\n",
                1e3 * per_token("sync"), 1e3 * per_token("async"), 1e3 * per_token("async+segments"),
                per_token("sync") / per_token("async"), per_token("sync") / per_token("async+segments"));
    // "At equal final reward": one greedy eval of E prompts at accuracy p has a binomial standard
    // deviation of sqrt(p (1 - p) / E), so read the gap against it.
    std::printf("final eval accuracy, mean over seeds: sync %.3f, async %.3f, async+segments %.3f\n",
                mean_eval["sync"], mean_eval["async"], mean_eval["async+segments"]);
    std::printf("async vs sync: %.2fx faster\n", mean_steady["sync"] / mean_steady["async"]);
    std::printf("async+segments vs sync: %.2fx faster (goal 2.5x) over steps 2..%s, %d seed(s)%s%s\n",
                mean_steady["sync"] / mean_steady["async+segments"], a["steps"].c_str(), seeds,
                a["set"].empty() ? "" : ", with ", a["set"].c_str());
    return 0;
}
