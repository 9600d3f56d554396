// Trainer-side quarantine (issue #15): a group the model cannot take (here a token id outside the
// vocabulary, in a buffer run without the job's limits so that it gets in) is kept aside with its error
// in <run>/quarantine/, counted in metrics.jsonl, and committed with its step: the job goes on, and
// once the step's checkpoint lands the group is done and never served again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "buffer/buffer_client.h"
#include "buffer/buffer_server.h"
#include "job/job_context.h"
#include "scheduler/job_config.h"
#include "scheduler/roles.h"
#include "trainer/trainer_role.h"

using namespace stride;

namespace {

std::string temp_dir(const std::string& name) {
    auto p = std::filesystem::temp_directory_path() / ("stride-q-" + name + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
    return p.string();
}

JobConfig job_config(const std::string& dir) {
    const std::string yaml = "name: q\nseed: 5\nrun_dir: " + dir + "\ntokenizer: " + STRIDE_SOURCE_DIR +
                             "/configs/tokenizers/arith/tokenizer.json\n"
                             "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, "
                             "intermediate: 64}\n"
                             "data: {train: 'gen:arith?n=50&seed=2', eval_size: 0}\n"
                             "rollout: {n: 2, max_tokens: 4}\nreward: {fn: arith}\n"
                             "trainer: {steps: 2, prompts_per_step: 2, lr: 0.001, eval_every: 0, "
                             "checkpoint_every: 0}\nlog: {level: warn}\n";
    return parse_job_config(yaml, "q.yaml");
}

std::vector<v1::Sample> group(const std::string& id, int bad_token = -1) {
    std::vector<v1::Sample> out;
    for (uint32_t i = 0; i < 2; ++i) {
        v1::Sample s;
        s.set_sample_id(id + "/" + std::to_string(i));
        s.set_group_id(id);
        s.set_prompt_id(id);
        s.set_index_in_group(i);
        s.set_group_size(2);
        for (int t : {3, 4, 5}) s.add_prompt_token_ids(t);
        for (int t : {6, 7}) {
            s.add_response_token_ids(t);
            s.add_behaviour_logprob(-1.0f);
            s.add_token_version(0);
        }
        if (bad_token >= 0 && i == 1) s.set_response_token_ids(1, bad_token);
        s.set_reward(static_cast<float>(i));
        s.set_correct(i == 1);
        s.set_reward_status(v1::REWARD_STATUS_OK);
        s.set_finish_reason(v1::FINISH_REASON_STOP);
        out.push_back(s);
    }
    return out;
}

}  // namespace

TEST(TrainerQuarantine, AGroupTheModelCannotTakeIsKeptAsideAndTheJobGoesOn) {
    const std::string dir = temp_dir("vocab");
    const JobConfig cfg = job_config(dir);
    JobContext ctx = make_job_context(cfg);
    std::atomic<bool> stop{false};
    StartingPolicy policy = starting_policy(ctx, SftMode::run, stop);
    BufferServerConfig bc = buffer_server_config(ctx, "tcp://127.0.0.1:*");
    bc.vocab_size = 0;      // a buffer without the job's limits: the bad group gets in
    bc.max_staleness = -1;  // the groups are all put up front, by version 0
    BufferServer buffer(bc);
    buffer.start();
    ZmqContext zctx;
    BufferClient producer(zctx, buffer.endpoint(), ctx.job_id);
    // Served in the order they complete: step 1 pulls g0 and bad, step 2 g1 and g2.
    producer.put(group("g0"));
    producer.put(group("bad", 9999));
    producer.put(group("g1"));
    producer.put(group("g2"));
    {
        TrainerRole trainer(ctx, std::move(*policy.model), policy.state, std::move(policy.adam),
                            buffer.endpoint(), "tcp://127.0.0.1:*");
        trainer.run(stop);
        EXPECT_EQ(trainer.state().step, 2);
        EXPECT_EQ(trainer.quarantined_groups(), 1);
    }
    const std::string run = cfg.run_path();
    std::ifstream qf(run + "/quarantine/bad.json");
    ASSERT_TRUE(qf.good()) << "no quarantine file";
    const auto q = nlohmann::json::parse(qf);
    EXPECT_EQ(q["group_id"], "bad");
    EXPECT_EQ(q["step"], 1);
    EXPECT_NE(q["error"].get<std::string>().find("9999"), std::string::npos) << q["error"];
    EXPECT_EQ(q["samples"].size(), 2u);
    std::ifstream mf(run + "/metrics.jsonl");
    std::string first;
    std::getline(mf, first);
    EXPECT_EQ(nlohmann::json::parse(first)["quarantined_groups"], 1);
    // Committed with step 1, done once the final checkpoint landed: a put of it again is not stored.
    EXPECT_EQ(producer.put(group("bad", 9999)).duplicates(), 2u);
    EXPECT_EQ(producer.stats().stored_samples(), 0u);
    buffer.stop();
    std::filesystem::remove_all(dir);
}
