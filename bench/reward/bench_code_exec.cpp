// The code_exec sandbox's cost, against a peer measured in the same run:
//   1. runs/s of a trivial Python program (`pass`) in the sandbox (namespaces, new root, rlimits,
//      seccomp), against a plain fork+exec of the same interpreter without any isolation;
//   2. code_exec reward samples/s: a correct program against 4 stdin/stdout tests, one sample at a
//      time and as a batch of 32 with reward.workers sandboxes at once.
// Usage: bench_code_exec [runs=100] [samples=64] [workers=4]
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "reward/registry.h"
#include "reward/sandbox/sandbox.h"

extern char** environ;

using namespace stride;
using Clock = std::chrono::steady_clock;

namespace {

const char* kPython = "/usr/bin/python3";

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool plain_run() {
    char* argv[] = {const_cast<char*>(kPython), const_cast<char*>("-c"), const_cast<char*>("pass"), nullptr};
    pid_t pid;
    if (posix_spawn(&pid, kPython, nullptr, nullptr, argv, environ) != 0) return false;
    int status = 0;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int main(int argc, char** argv) {
    const int runs = argc > 1 ? std::atoi(argv[1]) : 100;
    const int samples = argc > 2 ? std::atoi(argv[2]) : 64;
    const int workers = argc > 3 ? std::atoi(argv[3]) : 4;
    if (std::string why = sandbox_unavailable_reason(); !why.empty()) {
        std::printf("code_exec: no sandbox on this machine: %s\n", why.c_str());
        return 1;
    }

    // ---- 1. sandboxed vs plain interpreter start ---------------------------------------------------
    SandboxJob job;
    job.argv = {kPython, "-c", "pass"};
    job.env = {"PATH=/usr/bin:/bin"};
    SandboxLimits lim;
    for (int i = 0; i < 5; ++i)
        plain_run(), run_sandboxed(job, lim, SandboxIsolation::namespaces);  // warm caches
    auto t0 = Clock::now();
    int ok = 0;
    for (int i = 0; i < runs; ++i) ok += plain_run();
    const double plain_rate = runs / seconds_since(t0);
    t0 = Clock::now();
    for (int i = 0; i < runs; ++i) ok += run_sandboxed(job, lim, SandboxIsolation::namespaces).exit_code == 0;
    const double sandbox_rate = runs / seconds_since(t0);
    if (ok != 2 * runs) std::printf("warning: %d of %d runs failed\n", 2 * runs - ok, 2 * runs);
    std::printf(
        "python3 -c pass: %.1f runs/s sandboxed, %.1f runs/s plain fork+exec (%.1f vs %.1f ms each)\n",
        sandbox_rate, plain_rate, 1e3 / sandbox_rate, 1e3 / plain_rate);

    // ---- 2. the reward, one by one and batched -----------------------------------------------------
    RewardSpec spec;
    spec.fn = "code_exec";
    spec.timeout_s = 10;
    spec.plugin_workers = workers;
    auto fn = make_reward(spec);
    RewardInput in;
    in.response = "```python\na, b = map(int, input().split())\nprint(a + b)\n```";
    in.answer = R"({"tests": [{"input": "1 2", "output": "3"}, {"input": "2 2", "output": "4"},
                              {"input": "5 5", "output": "10"}, {"input": "0 9", "output": "9"}]})";
    double sink = 0;
    t0 = Clock::now();
    for (int i = 0; i < samples; ++i) sink += fn->score(in).score;
    const double one_rate = samples / seconds_since(t0);
    std::vector<RewardInput> batch(32, in);
    t0 = Clock::now();
    int batched = 0;
    for (; batched < samples; batched += static_cast<int>(batch.size()))
        for (const RewardResult& r : fn->score_batch(batch)) sink += r.score;
    const double batch_rate = batched / seconds_since(t0);
    std::printf(
        "code_exec reward (4 tests/sample): %.1f samples/s one at a time, %.1f samples/s batched with %d "
        "workers (score sum %.0f)\n",
        one_rate, batch_rate, workers, sink);
    std::printf(
        "code_exec: sandboxed run %.1f/s = %.2fx a plain fork+exec of python3; reward %.1f samples/s "
        "batched\n",
        sandbox_rate, sandbox_rate / plain_rate, batch_rate);
    return 0;
}
