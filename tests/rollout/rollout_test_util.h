// tests/rollout/rollout_test_util.h: a rollout worker's real surroundings for tests. A tiny job's
// context (arith tokenizer and prompts, a 1-layer model), a real RocksDB buffer, a real weight
// publisher and a real prompt dispatcher, all on loopback ZeroMQ; helpers to publish weights, run a
// worker to the end on a thread and read back what reached the buffer.
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "buffer/buffer_client.h"
#include "buffer/buffer_server.h"
#include "common/weight_sync.h"
#include "job/job_context.h"
#include "model/params.h"
#include "rollout/rollout_worker.h"
#include "scheduler/job_config.h"
#include "scheduler/prompt_dispatcher.h"
#include "tests/buffer/buffer_test_util.h"
#include "trainer/trainer_role.h"

namespace stride::test {

// The job: `prompts` prompts (one trainer step), n = 2, responses up to 24 tokens.
inline std::string rollout_yaml(const std::string& run_dir, int prompts) {
    return "name: seg\nseed: 3\nrun_dir: " + run_dir + "\n" + "tokenizer: " + STRIDE_SOURCE_DIR +
           "/configs/tokenizers/arith/tokenizer.json\n"
           "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, intermediate: 64}\n"
           "data: {train: 'gen:arith?n=300&seed=2', eval_size: 0}\n"
           "rollout: {n: 2, max_tokens: 24, segment_tokens: 4, kv_on_update: keep, max_batch_seqs: 16, "
           "kv_blocks: 512}\n"
           "reward: {fn: arith}\n"
           "trainer: {steps: 1, prompts_per_step: " +
           std::to_string(prompts) + ", eval_every: 0}\nlog: {level: warn}\n";
}

inline WeightBlob blob_of(const Model& m, int64_t version) {
    return weight_blob_of(m, version);
}

// Buffer, publisher and dispatcher of one job; `dir` outlives restarts of any of them.
class RolloutRig {
   public:
    // `buffer_limits` may set the buffer's validation limits (BufferServerConfig) before it starts.
    RolloutRig(const std::string& tag, const std::vector<std::string>& overrides, int prompts = 6,
               const std::function<void(BufferServerConfig&)>& buffer_limits = {})
        : dir_(tag),
          ctx_(
              make_job_context(parse_job_config(rollout_yaml(dir_.sub("runs"), prompts), "test", overrides))),
          publisher_(ctx_.job_id, "tcp://127.0.0.1:*") {
        BufferServerConfig bc = test_config(dir_.sub("buffer"), static_cast<uint32_t>(ctx_.cfg.rollout.n));
        bc.job_id = ctx_.job_id;
        if (buffer_limits) buffer_limits(bc);
        buffer_ = std::make_unique<BufferServer>(bc);
        buffer_->start();
        model_init_random_version(0);
        start_dispatcher(0);
    }

    const JobContext& ctx() const { return ctx_; }
    // Replaces the job's reward (a test double); before any worker is built.
    void set_reward(std::shared_ptr<const RewardFn> r) { ctx_.reward = std::move(r); }
    const JobConfig& cfg() const { return ctx_.cfg; }
    PromptDispatcher& dispatcher() { return *dispatcher_; }
    RolloutEndpoints endpoints() const {
        return {dispatcher_->endpoint(), buffer_->endpoint(), publisher_.endpoint()};
    }
    // The weights published as version v (version 0 is published at construction).
    const Model& model(int64_t v) const { return *models_.at(v); }

    // Publishes a new random model as version v.
    void model_init_random_version(int64_t v) {
        auto m = std::make_unique<Model>(ctx_.model_config());
        model_init_random(*m, 100 + static_cast<uint64_t>(v), 0.5f);
        publisher_.publish(blob_of(*m, v));
        models_[v] = std::move(m);
    }

    // A new dispatcher (a resumed job's scheduler) that starts at prompt `start`; one trainer step
    // of `prompts_per_step` prompts, so all are handed out at version 0.
    void start_dispatcher(int64_t start) {
        dispatcher_.reset();
        DispatcherOptions d;
        d.prompts_per_step = ctx_.cfg.trainer.prompts_per_step;
        d.total_steps = 1;
        d.max_lag = ctx_.cfg.rollout.mode == "sync" ? 0 : ctx_.cfg.buffer.max_staleness;
        d.seed = static_cast<uint64_t>(ctx_.cfg.seed);
        d.start_prompt = start;
        dispatcher_ = std::make_unique<PromptDispatcher>(ctx_, "tcp://127.0.0.1:*", publisher_.endpoint(), d);
    }

    // Runs a worker until it has delivered everything (or `stop`, or 60 s).
    void run(RolloutWorker& w, std::atomic<bool>& stop) {
        std::thread t([&] { w.run(stop); });
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        std::thread watchdog([&] {
            while (!stop && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            stop = true;
        });
        t.join();
        const bool timed_out = std::chrono::steady_clock::now() >= deadline;
        stop = true;
        watchdog.join();
        EXPECT_FALSE(timed_out) << "the worker did not finish within 60 s";
    }

    // Every sample of the complete groups in the buffer, by sample id (leased for good: commits).
    std::map<std::string, v1::Sample> samples() {
        ZmqContext z;
        BufferClient c(z, buffer_->endpoint(), ctx_.job_id);
        std::map<std::string, v1::Sample> out;
        for (;;) {
            v1::Batch b = c.pull(1000, 0, /*allow_partial=*/true);
            if (b.batch_id() == 0) break;
            for (const auto& g : b.groups()) {
                EXPECT_EQ(g.samples_size(), ctx_.cfg.rollout.n) << g.group_id();
                for (const auto& s : g.samples())
                    EXPECT_TRUE(out.emplace(s.sample_id(), s).second) << s.sample_id();
            }
            c.commit(b.batch_id());
        }
        return out;
    }
    v1::BufferStats buffer_stats() {
        ZmqContext z;
        return BufferClient(z, buffer_->endpoint(), ctx_.job_id).stats();
    }
    std::vector<v1::InFlightGroup> partials() {
        ZmqContext z;
        return BufferClient(z, buffer_->endpoint(), ctx_.job_id).load_partials();
    }

   private:
    TempDir dir_;
    JobContext ctx_;
    WeightPublisher publisher_;
    std::unique_ptr<BufferServer> buffer_;
    std::map<int64_t, std::unique_ptr<Model>> models_;
    std::unique_ptr<PromptDispatcher> dispatcher_;
};

}  // namespace stride::test
