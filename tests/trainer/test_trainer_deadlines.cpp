// A trainer whose buffer dies (issue #15): with nobody telling it to stop, its next call fails after
// deadlines.buffer_s and it stops with a checkpoint of the steps it trained and an error naming the
// buffer's endpoint and the key; a stop request cuts the same wait short. Real RocksDB buffer on
// loopback ZeroMQ, stopped under the trainer after its first step (from the step callback).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "buffer/buffer_client.h"
#include "buffer/buffer_server.h"
#include "common/base/peer_error.h"
#include "job/job_context.h"
#include "scheduler/job_config.h"
#include "scheduler/roles.h"
#include "trainer/trainer_role.h"

using namespace stride;
using Clock = std::chrono::steady_clock;

namespace {

std::string temp_dir(const std::string& name) {
    auto p = std::filesystem::temp_directory_path() / ("stride-dl-" + name + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
    return p.string();
}

// Three steps of one group each; no periodic checkpoint, so any checkpoint is the one a stop wrote.
JobConfig job_config(const std::string& dir, double buffer_deadline_s) {
    const std::string yaml = "name: dl\nseed: 5\nrun_dir: " + dir + "\ntokenizer: " + STRIDE_SOURCE_DIR +
                             "/configs/tokenizers/arith/tokenizer.json\n"
                             "model:\n  init: {arch: qwen2, hidden: 32, layers: 1, heads: 2, kv_heads: 1, "
                             "intermediate: 64}\n"
                             "data: {train: 'gen:arith?n=50&seed=2', eval_size: 0}\n"
                             "rollout: {n: 2, max_tokens: 4}\nreward: {fn: arith}\n"
                             "trainer: {steps: 3, prompts_per_step: 1, lr: 0.001, eval_every: 0, "
                             "checkpoint_every: 0}\nlog: {level: warn}\n";
    return parse_job_config(yaml, "dl.yaml", {"deadlines.buffer_s=" + std::to_string(buffer_deadline_s)});
}

std::vector<v1::Sample> group(const std::string& id) {
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
        s.set_reward(static_cast<float>(i));
        s.set_correct(i == 1);
        s.set_reward_status(v1::REWARD_STATUS_OK);
        s.set_finish_reason(v1::FINISH_REASON_STOP);
        out.push_back(s);
    }
    return out;
}

// The step of the newest checkpoint's job_state.json, -1 if there is none.
int64_t checkpoint_step(const std::string& run) {
    int64_t best = -1;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(run + "/checkpoints", ec)) {
        std::ifstream in(e.path() / "job_state.json");
        if (in.good()) best = std::max<int64_t>(best, nlohmann::json::parse(in)["step"].get<int64_t>());
    }
    return best;
}

// A trainer fed one group, whose buffer is stopped after its first step: the trainer then waits on a
// dead buffer. `during_wait` runs on a thread meanwhile (it may set the stop flag).
struct DeadBufferRun {
    double seconds_after_death = 0;  // from the buffer's stop to run()'s end
    std::string error;               // what run() threw ("" if it returned)
    bool peer_unreachable = false;
    std::string endpoint;
    int64_t step = 0;
};

DeadBufferRun run_until_the_buffer_dies(const JobConfig& cfg, std::atomic<bool>& stop,
                                        const std::function<void()>& during_wait = {}) {
    JobContext ctx = make_job_context(cfg);
    StartingPolicy policy = starting_policy(ctx, SftMode::run, stop);
    BufferServerConfig bc = buffer_server_config(ctx, "tcp://127.0.0.1:*");
    auto buffer = std::make_unique<BufferServer>(bc);
    buffer->start();
    DeadBufferRun out;
    out.endpoint = buffer->endpoint();
    {
        ZmqContext zctx;
        BufferClient producer(zctx, buffer->endpoint(), ctx.job_id);
        producer.put(group("g0"));
    }
    Clock::time_point died;
    std::thread waiter;
    TrainerRole trainer(ctx, std::move(*policy.model), policy.state, std::move(policy.adam),
                        buffer->endpoint(), "tcp://127.0.0.1:*");
    try {
        trainer.run(stop, [&](const TrainerProgress& p) {
            if (p.step != 1) return;
            buffer->stop();  // the buffer goes away under the trainer, and nobody says so
            died = Clock::now();
            if (during_wait) waiter = std::thread(during_wait);
        });
    } catch (const PeerUnreachable& e) {
        out.error = e.what();
        out.peer_unreachable = true;
    } catch (const std::exception& e) {
        out.error = e.what();
    }
    out.seconds_after_death = std::chrono::duration<double>(Clock::now() - died).count();
    if (waiter.joinable()) waiter.join();
    out.step = trainer.state().step;
    return out;
}

}  // namespace

TEST(TrainerDeadlines, ADeadBufferStopsTheTrainerWithinTheDeadlineWithItsCheckpoint) {
    const std::string dir = temp_dir("dead");
    const JobConfig cfg = job_config(dir, 1.5);
    std::atomic<bool> stop{false};
    const DeadBufferRun r = run_until_the_buffer_dies(cfg, stop);
    ASSERT_TRUE(r.peer_unreachable) << "run() did not fail naming a peer: '" << r.error << "'";
    EXPECT_NE(r.error.find(r.endpoint), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("deadlines.buffer_s"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("checkpoint of step 1"), std::string::npos) << r.error;
    // The pull of step 2 waits out the deadline (1.5 s), then the checkpoint is written without
    // waiting on the dead buffer a second time.
    EXPECT_GE(r.seconds_after_death, 1.4);
    EXPECT_LT(r.seconds_after_death, 1.5 + 8.0) << "the trainer took " << r.seconds_after_death << " s";
    EXPECT_EQ(r.step, 1);
    EXPECT_EQ(checkpoint_step(cfg.run_path()), 1) << "no checkpoint of the step trained";
    std::filesystem::remove_all(dir);
}

TEST(TrainerDeadlines, AStopInterruptsATrainerBlockedOnADeadBuffer) {
    // The default deadline (60 s) would hold the trainer for a minute; the stop ends the wait at once
    // and the trainer checkpoints and returns, as on SIGTERM.
    const std::string dir = temp_dir("stop");
    const JobConfig cfg = job_config(dir, 60);
    std::atomic<bool> stop{false};
    const DeadBufferRun r = run_until_the_buffer_dies(cfg, stop, [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        stop = true;
    });
    EXPECT_EQ(r.error, "");
    EXPECT_LT(r.seconds_after_death, 0.3 + 5.0) << "the trainer took " << r.seconds_after_death << " s";
    EXPECT_EQ(r.step, 1);
    EXPECT_EQ(checkpoint_step(cfg.run_path()), 1);
    std::filesystem::remove_all(dir);
}
