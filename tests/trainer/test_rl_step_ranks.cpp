// The data-parallel RL step (RlTrainer::set_rank_comms) across real processes: ranks of
// rank_step_helper share each step's batch by token count over the ZeroMQ collective, and after two
// steps their loss, metrics and weights equal the one-rank trainer's. Tolerance: only the order of
// float sums differs (the ranks' partial gradients, then their sum), so the loss agrees to 1e-5
// relative and every weight to 2e-6 absolute (the step is lr 1e-2 x a gradient-proportional AdamW,
// rl_test_util.h). The ranks hold bitwise the same weights (one rank-ordered sum, sent to all).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "tests/trainer/rank_test_util.h"

extern char** environ;

using namespace stride;
using namespace stride::test;
namespace fs = std::filesystem;

namespace {

using Metrics = std::vector<std::map<std::string, double>>;

struct RankResult {
    Metrics metrics;
    std::vector<float> weights;
};

RankResult read_result(const std::string& out) {
    RankResult r;
    std::ifstream in(out);
    std::string line;
    r.metrics.emplace_back();
    while (std::getline(in, line)) {
        if (line == "--") {
            r.metrics.emplace_back();
            continue;
        }
        std::istringstream ls(line);
        std::string k;
        double v;
        ls >> k >> v;
        r.metrics.back()[k] = v;
    }
    r.metrics.pop_back();
    std::ifstream w(out + ".weights", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(w)), std::istreambuf_iterator<char>());
    r.weights.resize(bytes.size() / sizeof(float));
    std::memcpy(r.weights.data(), bytes.data(), bytes.size());
    return r;
}

pid_t spawn_helper(const std::vector<std::string>& args) {
    std::vector<std::string> a = {STRIDE_BINARY_DIR "/tests/trainer_rank_step_helper"};
    a.insert(a.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    // One compute thread per rank: the ranks share this machine's cores (and spinning OpenMP or
    // OpenBLAS pools of every rank would starve each other).
    std::vector<std::string> env = {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"};
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) != 0 &&
            std::strncmp(*e, "OPENBLAS_NUM_THREADS=", 21) != 0)
            env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        execve(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    return pid;
}

// Waits at most 120 s for `pid`; its exit status (-1: killed on the deadline).
int wait_for(pid_t pid) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (;;) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        if (std::chrono::steady_clock::now() > until) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
            return -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::vector<RankResult> run_ranks(const std::string& variant, int ranks) {
    const fs::path dir = fs::temp_directory_path() / ("stride_ranks_" + std::to_string(getpid()) + "_" +
                                                      variant + "_" + std::to_string(ranks));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string ep = "ipc://" + (dir / "group").string();
    std::vector<pid_t> pids;
    for (int r = 0; r < ranks; ++r)
        pids.push_back(spawn_helper({variant, std::to_string(r), std::to_string(ranks), ep,
                                     (dir / ("rank" + std::to_string(r))).string()}));
    std::vector<RankResult> out;
    for (int r = 0; r < ranks; ++r) {
        EXPECT_EQ(wait_for(pids[r]), 0) << variant << ": rank " << r;
        out.push_back(read_result((dir / ("rank" + std::to_string(r))).string()));
    }
    fs::remove_all(dir);
    return out;
}

RankResult one_rank(const std::string& variant) {
    Model model = rank_start_model();
    const std::vector<Experience> batch = rank_batch(model);
    const AdamWConfig ac = gradient_proportional_adam(1e-2f);
    RlTrainer rl(model, ac, constant_lr(ac.lr));
    RankResult r;
    for (int s = 0; s < kRankSteps; ++s) r.metrics.push_back(rl.step(batch, rank_variant(variant), s));
    r.weights = model.data;
    return r;
}

void expect_same_as_one_rank(const std::string& variant, int ranks) {
    SCOPED_TRACE(variant + " on " + std::to_string(ranks) + " ranks");
    const RankResult single = one_rank(variant);
    const std::vector<RankResult> multi = run_ranks(variant, ranks);
    ASSERT_EQ(multi.size(), static_cast<size_t>(ranks));
    const Model start = rank_start_model();
    double moved = 0;
    for (size_t i = 0; i < start.data.size(); ++i)
        moved = std::max(moved, static_cast<double>(std::fabs(single.weights[i] - start.data[i])));
    ASSERT_GT(moved, 1e-4) << "the steps did not change the weights: nothing compared";
    for (int r = 0; r < ranks; ++r) {
        const RankResult& got = multi[r];
        ASSERT_EQ(got.metrics.size(), single.metrics.size()) << "rank " << r;
        ASSERT_EQ(got.weights.size(), single.weights.size()) << "rank " << r;
        for (size_t s = 0; s < single.metrics.size(); ++s)
            for (const char* key : {"loss", "pg_loss", "kl_ref", "entropy", "grad_norm", "clip_frac/high",
                                    "approx_kl", "adv/mean", "response_tokens", "updates", "ess"}) {
                ASSERT_TRUE(got.metrics[s].count(key)) << key;
                const double want = single.metrics[s].at(key), have = got.metrics[s].at(key);
                EXPECT_NEAR(have, want, 1e-5 * std::max(1.0, std::fabs(want)))
                    << "rank " << r << " step " << s << " " << key;
            }
        double worst = 0;
        for (size_t i = 0; i < single.weights.size(); ++i)
            worst = std::max(worst, static_cast<double>(std::fabs(got.weights[i] - single.weights[i])));
        EXPECT_LT(worst, 2e-6) << "rank " << r;
        EXPECT_EQ(got.weights, multi[0].weights) << "rank " << r << " holds other weights than rank 0";
    }
}

}  // namespace

TEST(RlStepRanks, TwoRanksTokenMeanEqualOneRank) {
    expect_same_as_one_rank("token_mean", 2);
}

TEST(RlStepRanks, TwoRanksSeqMeanTokenMeanEqualOneRank) {
    expect_same_as_one_rank("seq_mean", 2);
}

TEST(RlStepRanks, TwoRanksWithKlAndEntropyEqualOneRank) {
    expect_same_as_one_rank("kl", 2);
}

TEST(RlStepRanks, ThreeRanksWithMiniBatchesAndEpochsEqualOneRank) {
    expect_same_as_one_rank("minibatches", 3);
}
