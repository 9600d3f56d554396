// Segment rollout in a whole job: a tiny job with rollout.segment_tokens small next to
// rollout.max_tokens (8 of 48) runs to completion in sync and async mode, in this process (threads
// launcher), so its rollout workers' Prometheus series can be read afterwards: responses longer than
// one segment were carried over between rounds, and the staleness the trainer saw stays within the
// bound (sync: 0).
#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "scheduler/job.h"
#include "scheduler/job_config.h"

namespace fs = std::filesystem;
using namespace stride;

namespace {

struct JobRun {
    int rc = -1;
    std::vector<nlohmann::json> steps;  // metrics.jsonl
    nlohmann::json summary;             // run_summary.json
};

JobRun run_segmented_job(const std::string& name, const std::vector<std::string>& overrides) {
    const fs::path dir =
        fs::temp_directory_path() / ("stride-e2e-seg-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string cfg_path = (dir / "job.yaml").string();
    {
        std::ofstream out(cfg_path);
        out << "name: " << name << "\nseed: 3\nrun_dir: " << (dir / "runs").string() << "\n"
            << "tokenizer: " << STRIDE_SOURCE_DIR << "/configs/tokenizers/arith/tokenizer.json\n"
            << "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, intermediate: "
               "64}\n"
            << "data: {train: 'gen:arith?n=300&seed=2', eval_size: 0}\n"
            << "rollout: {n: 4, max_tokens: 48, segment_tokens: 8, workers: 2, kv_blocks: 256, block_size: "
               "4}\n"
            << "reward: {fn: arith}\n"
            << "trainer: {steps: 4, prompts_per_step: 4, lr: 0.001, eval_every: 0, checkpoint_every: 0}\n"
            << "log: {level: warn}\n";
    }
    std::atomic<bool> stop{false};
    JobRun r;
    r.rc = run_job(load_job_config(cfg_path, overrides), stop);
    std::ifstream in((dir / "runs" / name / "metrics.jsonl").string());
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) r.steps.push_back(nlohmann::json::parse(line));
    std::ifstream summary((dir / "runs" / name / "run_summary.json").string());
    r.summary = nlohmann::json::parse(summary, nullptr, false);
    fs::remove_all(dir);
    return r;
}

// Sum over this job's rollout workers of one exposed series (a counter, or a histogram bucket when
// `le` is given).
double series_sum(const std::string& job, const std::string& name, const std::string& le = "") {
    const std::string text = MetricsRegistry::global().render();
    std::regex re("^" + name + "\\{([^}]*)\\} ([0-9.eE+-]+)$");
    double sum = 0;
    std::istringstream in(text);
    std::string line;
    std::smatch m;
    while (std::getline(in, line)) {
        if (!std::regex_match(line, m, re)) continue;
        const std::string labels = m[1];
        if (labels.find("job=\"" + job + "\"") == std::string::npos) continue;
        if (!le.empty() && labels.find("le=\"" + le + "\"") == std::string::npos) continue;
        sum += std::stod(m[2]);
    }
    return sum;
}

void expect_segmented(const std::string& job) {
    const double rounds = series_sum(job, "stride_rollout_rounds_total");
    const double carried = series_sum(job, "stride_rollout_carried_sequences_total");
    const double responses = series_sum(job, "stride_rollout_segments_count");
    const double one_segment = series_sum(job, "stride_rollout_segments_bucket", "1");
    EXPECT_GT(rounds, 1) << job;
    EXPECT_GT(carried, 0) << job;
    EXPECT_GE(responses, 4 * 4 * 4) << job << ": every trained response was recorded";
    EXPECT_LT(one_segment, responses) << job << ": some responses are longer than one segment";
}

// Nothing lost: every prompt a worker took ended in the buffer, was given up (counted, with its
// reason in the log), or was still in flight when the job ended (saved for a resume).
void expect_every_prompt_accounted_for(const JobRun& r) {
    ASSERT_TRUE(r.summary.is_object()) << "run_summary.json";
    const auto n = [&](const char* k) { return r.summary.at(k).get<int64_t>(); };
    EXPECT_GE(n("prompts_taken"), 4 * 4);  // at least the trained prompts
    EXPECT_EQ(n("prompts_taken") + n("groups_resumed"),
              n("groups_put") + n("groups_given_up") + n("groups_in_flight"))
        << r.summary.dump();
    EXPECT_GE(n("groups_put"), 4 * 4);
    EXPECT_LE(n("reward_queue_max_depth"), n("reward_queue_capacity"));
}

// Trained-on numbers of a step; wall-clock fields differ between runs by nature.
nlohmann::json without_timings(nlohmann::json step) {
    for (auto it = step.begin(); it != step.end();) {
        const std::string& k = it.key();
        if (k.rfind("time/", 0) == 0 || k == "tokens_per_s")
            it = step.erase(it);
        else
            ++it;
    }
    return step;
}

}  // namespace

TEST(SegmentJob, SyncRunsToCompletionOnPolicy) {
    const JobRun r = run_segmented_job("segsync", {"rollout.mode=sync"});
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.steps.size(), 4u);
    for (const auto& s : r.steps) EXPECT_EQ(s["staleness/max"].get<double>(), 0.0) << s.dump();
    EXPECT_GT(r.steps.back()["response_length/max"].get<double>(), 8.0);
    expect_segmented("segsync");
    expect_every_prompt_accounted_for(r);
}

// Sync mode is the reproducible baseline: the same seed gives the same samples, rewards, losses and
// weights, step for step (one worker, so the order prompts are generated in is fixed too).
TEST(SegmentJob, SyncReproducesItsResultForAFixedSeed) {
    const std::vector<std::string> o = {"rollout.mode=sync", "rollout.workers=1"};
    const JobRun a = run_segmented_job("segrepro_a", o);
    const JobRun b = run_segmented_job("segrepro_b", o);
    ASSERT_EQ(a.rc, 0);
    ASSERT_EQ(b.rc, 0);
    ASSERT_EQ(a.steps.size(), 4u);
    ASSERT_EQ(b.steps.size(), a.steps.size());
    for (size_t i = 0; i < a.steps.size(); ++i)
        EXPECT_EQ(without_timings(a.steps[i]), without_timings(b.steps[i])) << "step " << i + 1;
    const JobRun c = run_segmented_job("segrepro_c", {"rollout.mode=sync", "rollout.workers=1", "seed=4"});
    ASSERT_EQ(c.rc, 0);
    EXPECT_NE(without_timings(a.steps.back()), without_timings(c.steps.back())) << "the seed is used";
}

TEST(SegmentJob, AsyncRunsToCompletionWithinTheStalenessBound) {
    const JobRun r = run_segmented_job(
        "segasync", {"rollout.mode=async", "buffer.max_staleness=1", "rollout.kv_on_update=recompute"});
    ASSERT_EQ(r.rc, 0);
    ASSERT_EQ(r.steps.size(), 4u);
    for (const auto& s : r.steps) EXPECT_LE(s["staleness/max"].get<double>(), 1.0) << s.dump();
    expect_segmented("segasync");
    expect_every_prompt_accounted_for(r);
}

// rollout.kv_dtype reaches the engine: with a bf16 cache the behaviour log-probs are those of a model
// reading rounded K/V, so the trainer's fp32 recomputation disagrees with them by more than float
// rounding (logprob_mismatch), yet little, and the job runs as with fp32.
TEST(SegmentJob, Bf16KvCacheRunsTheJobWithASmallBehaviourLogprobMismatch) {
    auto max_mismatch = [](const JobRun& r) {
        double m = 0;
        for (const auto& s : r.steps) m = std::max(m, s["logprob_mismatch/max"].get<double>());
        return m;
    };
    const JobRun fp32 = run_segmented_job("segfp32", {"rollout.mode=sync", "rollout.workers=1"});
    const JobRun bf16 =
        run_segmented_job("segbf16", {"rollout.mode=sync", "rollout.workers=1", "rollout.kv_dtype=bf16"});
    ASSERT_EQ(fp32.rc, 0);
    ASSERT_EQ(bf16.rc, 0);
    ASSERT_EQ(bf16.steps.size(), 4u);
    EXPECT_LT(max_mismatch(fp32), 1e-4);
    EXPECT_GT(max_mismatch(bf16), 10 * max_mismatch(fp32));
    EXPECT_LT(max_mismatch(bf16), 0.1);
    expect_every_prompt_accounted_for(bf16);
}
