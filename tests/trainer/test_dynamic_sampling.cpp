// DAPO dynamic sampling across roles, over real sockets: the trainer drops groups whose samples are
// all equally right or wrong and pulls replacements until it holds trainer.prompts_per_step groups
// (or max_gen_batches x prompts_per_step groups were generated); the prompt dispatcher hands out the extra
// prompts it announces with its weights, behind the same staleness gate, and ends the job only after the last
// step. The job runs in-process (buffer, trainer, dispatcher, one rollout worker as threads) with a
// seeded coin-flip reward, so that many groups come out all-equal whatever the model does.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "buffer/buffer_server.h"
#include "common/messaging.h"
#include "common/weight_sync.h"
#include "job/job_context.h"
#include "rollout/rollout_worker.h"
#include "scheduler/job_config.h"
#include "job/job_context.h"
#include "scheduler/prompt_dispatcher.h"
#include "scheduler/roles.h"
#include "trainer/extra_prompts_client.h"
#include "trainer/trainer_role.h"

using namespace stride;

namespace {

std::string temp_dir(const std::string& name) {
    auto p = std::filesystem::temp_directory_path() / ("stride-ds-" + name + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
    return p.string();
}

JobConfig job_config(const std::string& dir, const std::string& extra = "") {
    const std::string yaml = "name: ds\nseed: 5\nrun_dir: " + dir + "\ntokenizer: " + STRIDE_SOURCE_DIR +
                             "/configs/tokenizers/arith/tokenizer.json\n"
                             "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, "
                             "intermediate: 64}\n"
                             "data: {train: 'gen:arith?n=200&seed=2', eval_size: 0}\n"
                             "rollout: {n: 4, max_tokens: 4}\nreward: {fn: arith}\n"
                             "trainer: {algorithm: dapo, steps: 3, prompts_per_step: 4, lr: 0.001, "
                             "eval_every: 0, checkpoint_every: 0, max_gen_batches: 20}\n"
                             "log: {level: warn}\n" +
                             extra;
    return parse_job_config(yaml, "ds.yaml");
}

// Correct with probability p, decided by a hash of prompt and response: with groups of 4 and
// p = 0.2, about 41% of the groups are all wrong (0.8^4) and are dropped.
class CoinReward : public RewardFn {
   public:
    explicit CoinReward(double p) : p_(p) {}
    RewardResult score(const RewardInput& in) const override {
        const bool ok = std::hash<std::string>{}(in.prompt + "|" + in.response) % 1000 < p_ * 1000;
        return {ok ? 1.0 : 0.0, RewardStatus::ok, "", ok};
    }
    std::string name() const override { return "coin"; }

   private:
    double p_;
};

struct JobResult {
    std::vector<nlohmann::json> metrics;
    int64_t dispatched = 0;
    JobState state;
};

// The roles of run_threads (scheduler/job.cpp) with the reward replaced.
JobResult run_job(const JobConfig& cfg, double p_correct) {
    JobContext ctx = make_job_context(cfg);
    ctx.reward = std::make_shared<CoinReward>(p_correct);
    std::atomic<bool> stop{false}, roles_stop{false};
    StartingPolicy policy = starting_policy(ctx, SftMode::run, stop);
    BufferServer buffer(buffer_server_config(ctx, "tcp://127.0.0.1:*"));
    buffer.start();
    TrainerRole trainer(ctx, std::move(*policy.model), policy.state, std::move(policy.adam),
                        buffer.endpoint(), "tcp://127.0.0.1:*");
    PromptDispatcher dispatcher(ctx, "tcp://127.0.0.1:*", trainer.weights_endpoint(),
                                dispatcher_options(cfg, policy.state));
    trainer.connect_scheduler(dispatcher.endpoint());
    RolloutWorker worker(ctx, "rollout-0",
                         {dispatcher.endpoint(), buffer.endpoint(), trainer.weights_endpoint()});
    std::thread rollout([&] { worker.run(roles_stop); });
    trainer.run(stop);
    roles_stop = true;
    rollout.join();
    buffer.stop();
    JobResult r;
    std::ifstream in(cfg.run_path() + "/metrics.jsonl");
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) r.metrics.push_back(nlohmann::json::parse(line));
    r.dispatched = dispatcher.dispatched();
    r.state = trainer.state();
    return r;
}

struct Client {
    ZmqContext ctx;
    RequestClient rpc;
    Client(const std::string& ep, const std::string& job) : rpc(ctx, ep, job) {}
    v1::PromptBatch ask(uint32_t n, uint64_t flat_groups = 0, const std::string& worker = "w") {
        v1::Envelope e = make_envelope(rpc.job_id());
        e.mutable_prompt_request()->set_worker_id(worker);
        e.mutable_prompt_request()->set_max_prompts(n);
        e.mutable_prompt_request()->set_flat_groups(flat_groups);
        auto reply = rpc.call(e, 3000);
        EXPECT_TRUE(reply && reply->has_prompt_batch());
        return reply && reply->has_prompt_batch() ? reply->prompt_batch() : v1::PromptBatch{};
    }
};

WeightBlob blob(int64_t v) {
    WeightBlob b;
    b.version = v;
    b.bytes.assign(16, 0);
    return b;
}

void let_gate_refresh() {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
}

}  // namespace

TEST(DynamicSampling, DispatcherHandsOutTheExtraPromptsTheTrainerAnnounces) {
    const std::string dir = temp_dir("disp");
    JobContext ctx = make_job_context(job_config(dir));
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    DispatcherOptions opt{4, 2, /*max_lag=*/0, 1, 0, /*dynamic_sampling=*/true};
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), opt);
    Client c(d.endpoint(), ctx.job_id);
    ExtraPromptsClient trainer_asks(ctx.job_id);
    trainer_asks.connect(d.endpoint());
    pub.publish(blob(0));
    let_gate_refresh();
    EXPECT_EQ(c.ask(10).prompts_size(), 4);  // step 0
    EXPECT_EQ(c.ask(10).prompts_size(), 0);  // the gate is closed...
    ASSERT_TRUE(trainer_asks.announce(3));   // ...until the trainer drops 3 groups and wants more
    let_gate_refresh();
    v1::PromptBatch extra = c.ask(10);
    ASSERT_EQ(extra.prompts_size(), 3);
    EXPECT_EQ(extra.prompts(0).prompt_id(), "p4");
    EXPECT_EQ(extra.min_policy_version(), 0);  // still step 0's prompts: generated by version 0
    pub.publish(blob(1));
    let_gate_refresh();
    v1::PromptBatch step1 = c.ask(10);
    EXPECT_EQ(step1.prompts_size(), 4);
    EXPECT_EQ(step1.min_policy_version(), 1);
    // Every scheduled prompt is out (2 x 4 + 3), but the last step may still drop groups: no
    // `finished` until the trainer has published its final version.
    v1::PromptBatch wait = c.ask(10);
    EXPECT_EQ(wait.prompts_size(), 0);
    EXPECT_FALSE(wait.finished());
    ASSERT_TRUE(trainer_asks.announce(4));
    let_gate_refresh();
    EXPECT_EQ(c.ask(10).prompts_size(), 1);
    pub.publish(blob(2));
    let_gate_refresh();
    EXPECT_TRUE(c.ask(10).finished());
    EXPECT_EQ(d.dispatched(), 2 * 4 + 4);
    std::filesystem::remove_all(dir);
}

// Async: a flat group a worker reports frees its place under the gate at once (AReaL frees a rejected
// rollout's slot), before the trainer has pulled it and asked for a replacement; the trainer's own
// count E covers the same groups, so the gate moves by the larger of the two, not their sum.
TEST(DynamicSampling, AsyncGateOpensForFlatGroupsTheWorkersReport) {
    const std::string dir = temp_dir("flat");
    JobContext ctx = make_job_context(job_config(dir));
    for (int lag : {0, 1}) {
        WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
        DispatcherOptions opt{4, 10, lag, 1, 0, /*dynamic_sampling=*/true};
        PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), opt);
        Client c(d.endpoint(), ctx.job_id);
        ExtraPromptsClient trainer_asks(ctx.job_id);
        trainer_asks.connect(d.endpoint());
        pub.publish(blob(0));
        let_gate_refresh();
        const int open = 4 * (lag + 1);  // steps 0..lag
        EXPECT_EQ(c.ask(20).prompts_size(), open) << "lag " << lag;
        const int freed = c.ask(20, /*flat_groups=*/3).prompts_size();
        if (lag == 0) {  // sync: the trainer replaces what it pulls; reports change nothing
            EXPECT_EQ(freed, 0);
            EXPECT_EQ(d.dispatched(), open);
            continue;
        }
        EXPECT_EQ(freed, 3);
        EXPECT_EQ(c.ask(20, 3).prompts_size(), 0);  // the same cumulative report again: nothing new
        ASSERT_TRUE(trainer_asks.announce(2));      // the trainer pulled 2 of them: covered already
        let_gate_refresh();
        EXPECT_EQ(c.ask(20, 3).prompts_size(), 0);
        ASSERT_TRUE(trainer_asks.announce(5));  // it asked for 5 (oversampling): 2 beyond the 3 reported
        let_gate_refresh();
        EXPECT_EQ(c.ask(20, 3).prompts_size(), 2);
        EXPECT_EQ(c.ask(20, 1).prompts_size(), 0);  // restarted, counting from 0: F = 4 < E = 5
        v1::PromptBatch more = c.ask(20, 3);        // F = 6
        ASSERT_EQ(more.prompts_size(), 1);
        EXPECT_EQ(more.prompts(0).prompt_id(), "p" + std::to_string(open + 5));
        EXPECT_EQ(c.ask(20, 2, "other").prompts_size(), 2);  // another worker's flat groups add up
        EXPECT_EQ(d.dispatched(), open + 8);
    }
    std::filesystem::remove_all(dir);
}

TEST(DynamicSampling, EveryStepTrainsAFullBatchOfVaryingGroups) {
    // One replacement per dropped group: every prompt handed out is then trained on or dropped.
    const std::string dir = temp_dir("job");
    JobConfig cfg = job_config(dir);
    cfg.trainer.oversample = false;
    JobResult r = run_job(cfg, 0.2);
    ASSERT_EQ(r.metrics.size(), 3u);
    double rounds = 0, dropped = 0;
    for (const auto& m : r.metrics) {
        EXPECT_EQ(m["dynamic_sampling/kept_groups"], 4) << m.dump();  // full batches, always
        EXPECT_EQ(m["dynamic_sampling/gave_up"], 0.0) << m.dump();
        EXPECT_EQ(m["dynamic_sampling/groups"].get<double>(),
                  4 + m["dynamic_sampling/dropped_groups"].get<double>());
        EXPECT_EQ(m["staleness/max"], 0.0) << m.dump();  // sync: replacements come from the same version
        rounds += m["dynamic_sampling/rounds"].get<double>();
        dropped += m["dynamic_sampling/dropped_groups"].get<double>();
    }
    EXPECT_GT(dropped, 0) << "the coin-flip reward should leave some groups all wrong";
    EXPECT_GT(rounds, 3);
    // Every prompt handed out was trained on or dropped; none more.
    EXPECT_EQ(r.state.extra_prompts, dropped);
    EXPECT_EQ(r.dispatched, 3 * 4 + r.state.extra_prompts);
    EXPECT_EQ(r.state.prompts_dispatched, r.dispatched);
    std::filesystem::remove_all(dir);
}

TEST(DynamicSampling, OversamplingAsksForMoreThanWasDroppedAndStillTrainsFullBatches) {
    // p = 0.05: about 81% of the groups are all wrong (0.95^4), so after the first pull the trainer
    // asks for several prompts per missing group. Sync mode: what a step asked for beyond its need
    // comes back after it and is dropped by the buffer as stale (max_staleness 0), never trained.
    const std::string dir = temp_dir("over");
    JobConfig cfg = job_config(dir);
    cfg.trainer.oversample = true;
    cfg.trainer.max_gen_batches = 0;
    JobResult r = run_job(cfg, 0.05);
    ASSERT_EQ(r.metrics.size(), 3u);
    double dropped = 0;
    for (const auto& m : r.metrics) {
        EXPECT_EQ(m["dynamic_sampling/kept_groups"], 4) << m.dump();
        EXPECT_EQ(m["dynamic_sampling/gave_up"], 0.0) << m.dump();
        EXPECT_EQ(m["staleness/max"], 0.0) << m.dump();
        dropped += m["dynamic_sampling/dropped_groups"].get<double>();
    }
    EXPECT_GT(r.state.extra_prompts, dropped) << "oversampling should ask for more than was dropped";
    // The last step may end before all it asked for was handed out (the job then finishes).
    EXPECT_LE(r.dispatched, 3 * 4 + r.state.extra_prompts);
    EXPECT_GT(r.dispatched, 3 * 4 + dropped);
    std::filesystem::remove_all(dir);
}

TEST(DynamicSampling, GivesUpAfterMaxGenBatchesAndTheJobStillEnds) {
    // Nothing is ever right: every group is dropped; each step stops after 2 rounds and skips.
    const std::string dir = temp_dir("giveup");
    JobConfig cfg = job_config(dir);
    cfg.trainer.max_gen_batches = 2;
    cfg.trainer.steps = 2;
    JobResult r = run_job(cfg, 0.0);
    ASSERT_EQ(r.metrics.size(), 2u);
    for (const auto& m : r.metrics) {
        EXPECT_EQ(m["dynamic_sampling/rounds"], 2) << m.dump();
        EXPECT_EQ(m["dynamic_sampling/gave_up"], 1.0) << m.dump();
        EXPECT_EQ(m["dynamic_sampling/kept_groups"], 0) << m.dump();
        EXPECT_EQ(m["skipped_step"], 1.0) << m.dump();
    }
    EXPECT_EQ(r.state.extra_prompts, 2 * 4);  // one replacement round of 4 per step
    EXPECT_EQ(r.dispatched, 2 * 4 + 8);
    std::filesystem::remove_all(dir);
}
