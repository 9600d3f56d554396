// tests/cluster: helpers of the jobs-across-machines tests (issue #18): a scratch directory per test,
// the tiny job every one of them runs, and the steps of a metrics.jsonl.
#pragma once
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace stride::test {

inline std::string cluster_scratch(const std::string& name) {
    namespace fs = std::filesystem;
    const fs::path p =
        fs::temp_directory_path() / ("stride-cluster-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

// A 4-step job of a 1-layer model, two rollout workers; `extra` is appended YAML.
inline std::string write_tiny_job(const std::string& dir, const std::string& extra = "") {
    const std::string path = dir + "/job.yaml";
    std::ofstream(path) << "name: cl\nseed: 3\n"
                        << "tokenizer: " << STRIDE_SOURCE_DIR << "/configs/tokenizers/arith/tokenizer.json\n"
                        << "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, "
                           "intermediate: 64}\n"
                        << "data: {train: 'gen:arith?n=300&seed=2', eval_size: 20}\n"
                        << "rollout: {n: 4, max_tokens: 5, workers: 2}\n"
                        << "reward: {fn: arith}\n"
                        << "trainer: {steps: 4, prompts_per_step: 4, lr: 0.001, eval_every: 2, "
                           "checkpoint_every: 2}\n"
                        << extra;
    return path;
}

// `stride role ARGS...` as a child process, its stdout and stderr into `log`.
inline pid_t start_role(const std::string& log, const std::vector<std::string>& args) {
    const pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(125);
        setvbuf(stdout, nullptr, _IONBF, 0);
        std::vector<char*> argv = {const_cast<char*>(STRIDE_BIN), const_cast<char*>("role")};
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(STRIDE_BIN, argv.data());
        _exit(127);
    }
    return pid;
}

// The five roles of a two-worker cluster job (scheduler, buffer, trainer, rollout 0 and 1), each
// started with `common` after its role arguments and logging to DIR/<role>.out; their pids.
inline std::vector<pid_t> start_cluster_roles(const std::string& dir,
                                              const std::vector<std::string>& common) {
    auto with = [&](std::vector<std::string> head) {
        head.insert(head.end(), common.begin(), common.end());
        return head;
    };
    return {start_role(dir + "/scheduler.out", with({"scheduler"})),
            start_role(dir + "/buffer.out", with({"buffer"})),
            start_role(dir + "/trainer.out", with({"trainer"})),
            start_role(dir + "/rollout0.out", with({"rollout", "--worker", "0"})),
            start_role(dir + "/rollout1.out", with({"rollout", "--worker", "1"}))};
}

inline bool wait_for(const std::function<bool()>& cond, double seconds) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < until) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return cond();
}

inline bool port_free(int p) {
    const std::string cmd = "ss -Htln 'sport = :" + std::to_string(p) + "'";
    FILE* f = popen(cmd.c_str(), "r");
    char c;
    const bool busy = f && fread(&c, 1, 1, f) == 1;
    if (f) pclose(f);
    return !busy;
}

// A TCP port nobody listens on now, below the ephemeral range, starting at a place of this process's
// own so that parallel tests rarely probe the same ones.
inline int free_port(int base) {
    for (int p = base + getpid() % 5000;; ++p)
        if (port_free(p)) return p;
}

inline std::vector<int64_t> metrics_steps(const std::string& jsonl) {
    std::vector<int64_t> steps;
    std::ifstream in(jsonl);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) steps.push_back(nlohmann::json::parse(line).at("step").get<int64_t>());
    return steps;
}

}  // namespace stride::test
