// tests/e2e/e2e_test_util.h: what the whole-job tests share: a scratch run directory, a small job
// config, `stride ARGS` run to its end, metrics.jsonl read back, and a processes-mode job left running
// with the role pids it prints.
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace stride::test::e2e {

inline std::string make_run_dir(const std::string& name) {
    namespace fs = std::filesystem;
    fs::path p = fs::temp_directory_path() / ("stride-e2e-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

// A 4-step job of a tiny model on generated arithmetic; runs write to <dir>/runs/e2e.
inline std::string write_config(const std::string& dir, const std::string& extra = "") {
    const std::string path = dir + "/job.yaml";
    std::ofstream out(path);
    out << "name: e2e\nseed: 3\nrun_dir: " << dir << "/runs\n"
        << "tokenizer: " << STRIDE_SOURCE_DIR << "/configs/tokenizers/arith/tokenizer.json\n"
        << "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, intermediate: 64}\n"
        << "data: {train: 'gen:arith?n=300&seed=2', eval_size: 20}\n"
        << "rollout: {n: 4, max_tokens: 5, workers: 2}\n"
        << "reward: {fn: arith}\n"
        << "trainer: {steps: 4, prompts_per_step: 4, lr: 0.001, eval_every: 2, checkpoint_every: 2}\n"
        << "log: {level: warn}\n"
        << extra;
    return path;
}

// `stride ARGS` to its end; returns its exit code, *output gets stdout and stderr.
inline int run_stride(const std::vector<std::string>& args, std::string* output = nullptr) {
    std::string cmd = std::string(STRIDE_BIN);
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    int status = pclose(p);
    if (output) *output = out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// `stride ARGS` killed (SIGKILL, its children dying with it: PR_SET_PDEATHSIG) if it has not ended
// within `seconds`: a hang fails the test instead of holding it. Returns the exit code, 124 or 137 for
// a run that was killed (timeout(1)'s codes).
inline int run_stride_within(int seconds, const std::vector<std::string>& args,
                             std::string* output = nullptr) {
    std::vector<std::string> all = {"-s", "KILL", std::to_string(seconds), std::string(STRIDE_BIN)};
    all.insert(all.end(), args.begin(), args.end());
    std::string cmd = "timeout";
    for (const auto& a : all) cmd += " '" + a + "'";
    cmd += " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
    int status = pclose(p);
    if (output) *output = out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// One JSON object per non-empty line (metrics.jsonl, trained.jsonl); none if the file is missing.
inline std::vector<nlohmann::json> read_metrics(const std::string& path) {
    std::vector<nlohmann::json> lines;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
    return lines;
}

// Whether pid has ended: no such process, or a zombie nobody reaped yet (a role whose launcher died is
// re-parented; its descriptors, job.lock's included, are closed either way).
inline bool process_gone(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return true;
    std::string line;
    std::getline(stat, line);
    const auto paren = line.rfind(')');
    return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] == 'Z' ||
           line[paren + 2] == 'X';
}

// `stride run CFG launcher=processes ARGS...` left running, with its stdout (where the launcher prints
// "role NAME: pid N" for each role) on a pipe. The default ARGS make it a long job.
struct ProcessesJob {
    pid_t pid = -1;
    int out = -1;
    std::string text;  // what it printed so far

    explicit ProcessesJob(const std::string& cfg, std::vector<std::string> args = {
                                                      "trainer.steps=100000", "trainer.checkpoint_every=0"}) {
        int fds[2];
        if (pipe(fds) != 0) return;
        args.insert(args.begin(), {STRIDE_BIN, "run", cfg, "launcher=processes"});
        pid = fork();
        if (pid == 0) {
            dup2(fds[1], STDOUT_FILENO);
            if (!freopen("/dev/null", "w", stderr)) _exit(126);
            std::vector<char*> argv;
            for (std::string& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(STRIDE_BIN, argv.data());
            _exit(127);
        }
        close(fds[1]);
        out = fds[0];
    }
    ~ProcessesJob() {
        if (out >= 0) close(out);
    }
    // The pid of role NAME ("rollout-0"), read from the launcher's output; -1 if it ends first.
    pid_t role_pid(const std::string& name) {
        const std::string key = "role " + name + ": pid ";
        for (;;) {
            const auto at = text.find(key);
            if (at != std::string::npos && text.find('\n', at) != std::string::npos)
                return std::atoi(text.c_str() + at + key.size());
            char buf[256];
            const ssize_t n = read(out, buf, sizeof(buf));
            if (n <= 0) return -1;
            text.append(buf, n);
        }
    }
};

}  // namespace stride::test::e2e
