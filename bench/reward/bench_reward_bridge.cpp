// The Python reward bridge: per-sample time of a trivial Python function (tests/reward/python/good.py)
// scored by worker processes (python:file.py:function), against the direct in-process C++ call of the
// same comparison (the exact_match built-in). Batches go to the workers in one request each
// (RewardFn::score_batch); one sample per call is shown for reference. Each figure is the best of three
// runs. Goal: overhead <= 50 us/sample batched.
// Usage: bench_reward_bridge [samples=20000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "reward/plugin/python_reward.h"
#include "reward/registry.h"

using namespace stride;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Short quickstart-like samples: the point is the bridge, not the function.
std::vector<RewardInput> samples(size_t n) {
    std::vector<RewardInput> v(n);
    for (size_t i = 0; i < n; ++i) {
        v[i].prompt = std::to_string(i) + "+" + std::to_string(2 * i) + "=";
        v[i].response = std::to_string(3 * i + (i % 3 == 0));
        v[i].answer = std::to_string(3 * i);
        v[i].response_tokens = 4;
    }
    return v;
}

PythonReward make_python(int workers) {
    PluginOptions opt;
    opt.workers = workers;
    opt.timeout_s = 10;
    return PythonReward(std::string("python:") + STRIDE_SOURCE_DIR + "/tests/reward/python/good.py:score",
                        opt);
}

// Microseconds per sample, scoring `in` in batches of `batch` samples; the best of three runs, since
// a shared machine only ever adds time.
double us_per_sample(const RewardFn& fn, const std::vector<RewardInput>& in, size_t batch, double* sink) {
    double best = 1e30;
    for (int run = 0; run < 3; ++run) {
        auto t0 = Clock::now();
        for (size_t at = 0; at < in.size(); at += batch) {
            std::vector<RewardInput> part(in.begin() + at, in.begin() + std::min(in.size(), at + batch));
            for (const RewardResult& r : fn.score_batch(part)) *sink += r.score;
        }
        best = std::min(best, seconds_since(t0) / in.size() * 1e6);
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
    const auto in = samples(n);
    double sink = 0;

    auto exact = make_base_reward("exact_match");
    double direct_us = 1e30;
    for (int run = 0; run < 3; ++run) {
        auto t0 = Clock::now();
        for (int rep = 0; rep < 20; ++rep)
            for (const RewardInput& x : in) sink += exact->score(x).score;
        direct_us = std::min(direct_us, seconds_since(t0) / (20.0 * n) * 1e6);
    }
    std::printf("direct C++ call (exact_match): %.3f us/sample\n", direct_us);

    double headline = 0;
    for (int workers : {1, 2}) {
        PythonReward py = make_python(workers);
        us_per_sample(py, samples(2 * 256), 256, &sink);  // warm-up: every worker up, Python warm
        const double single =
            us_per_sample(py, std::vector<RewardInput>(in.begin(), in.begin() + n / 10), 1, &sink);
        std::printf("python, %d worker(s), 1 sample per call:   %7.1f us/sample\n", workers, single);
        for (size_t batch : {64, 256}) {
            const double us = us_per_sample(py, in, batch, &sink);
            std::printf("python, %d worker(s), %3zu samples per call: %7.1f us/sample (overhead %.1f)\n",
                        workers, batch, us, us - direct_us);
            if (workers == 1 && batch == 256) headline = us - direct_us;
        }
    }
    std::printf("checksum %.0f\n", sink);
    std::printf(
        "python bridge overhead: %.1f us/sample batched (256 per call, 1 worker) vs direct C++ call; goal <= "
        "50\n",
        headline);
    return 0;
}
