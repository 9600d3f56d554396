// The scheduler's prompt service over real sockets: the staleness gate (which steps may be
// generated at which trainer version), the end of the job, determinism, and bad requests.
#include <gtest/gtest.h>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/messaging.h"
#include "common/weight_sync.h"
#include "job/job_context.h"
#include "scheduler/job_config.h"
#include "scheduler/prompt_dispatcher.h"

using namespace stride;

namespace {

JobContext tiny_context() {
    const std::string yaml = std::string("name: disp\ntokenizer: ") + STRIDE_SOURCE_DIR +
                             "/configs/tokenizers/arith/tokenizer.json\n"
                             "data: {train: 'gen:arith?n=30&seed=4', eval_size: 5}\n"
                             "rollout: {n: 2, max_tokens: 4}\nreward: {fn: arith}\n"
                             "trainer: {steps: 3, prompts_per_step: 4}\n";
    return make_job_context(parse_job_config(yaml, "test.yaml"));
}

struct Client {
    ZmqContext ctx;
    RequestClient rpc;
    Client(const std::string& ep, const std::string& job) : rpc(ctx, ep, job) {}
    v1::PromptBatch ask(uint32_t n) {
        v1::Envelope e = make_envelope(rpc.job_id());
        e.mutable_prompt_request()->set_worker_id("w");
        e.mutable_prompt_request()->set_max_prompts(n);
        auto reply = rpc.call(e, 3000);
        EXPECT_TRUE(reply.has_value());
        EXPECT_TRUE(reply && reply->has_prompt_batch()) << (reply ? reply->DebugString() : "no reply");
        return reply && reply->has_prompt_batch() ? reply->prompt_batch() : v1::PromptBatch{};
    }
};

WeightBlob blob(int64_t v) {
    WeightBlob b;
    b.version = v;
    b.bytes.assign(16, 0);
    return b;
}

// The gate reads the trainer version at most every 20 ms.
void let_gate_refresh() {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
}

}  // namespace

TEST(PromptDispatcher, SyncGateHandsOutOneStepPerVersionThenFinishes) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    DispatcherOptions opt{4, 3, /*max_lag=*/0, 1, 0};
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), opt);
    Client c(d.endpoint(), ctx.job_id);

    // No weights published yet: nothing may be generated.
    v1::PromptBatch b = c.ask(100);
    EXPECT_EQ(b.prompts_size(), 0);
    EXPECT_FALSE(b.finished());
    EXPECT_GT(b.retry_after_ms(), 0u);

    std::set<std::string> ids;
    for (int64_t v = 0; v < 3; ++v) {
        pub.publish(blob(v));
        let_gate_refresh();
        b = c.ask(100);
        ASSERT_EQ(b.prompts_size(), 4) << "version " << v;  // step v only
        EXPECT_EQ(b.min_policy_version(), v);
        for (const auto& p : b.prompts()) {
            EXPECT_FALSE(p.token_ids().empty());
            EXPECT_FALSE(p.label().empty());
            ids.insert(p.prompt_id());
        }
        EXPECT_EQ(c.ask(100).prompts_size(), 0);  // gate closed until the trainer moves on
    }
    EXPECT_EQ(ids.size(), 12u);
    pub.publish(blob(3));
    let_gate_refresh();
    EXPECT_TRUE(c.ask(100).finished());
    EXPECT_EQ(d.dispatched(), 12);
}

TEST(PromptDispatcher, LagLetsRolloutRunAheadAndSmallRequestsAreHonoured) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    pub.publish(blob(0));
    DispatcherOptions opt{4, 3, /*max_lag=*/1, 1, 0};
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), opt);
    Client c(d.endpoint(), ctx.job_id);
    let_gate_refresh();
    v1::PromptBatch a = c.ask(3), b = c.ask(100);
    EXPECT_EQ(a.prompts_size(), 3);
    EXPECT_EQ(b.prompts_size(), 5);  // steps 0 and 1 open at version 0 with lag 1
    EXPECT_EQ(b.min_policy_version(), 0);
    EXPECT_EQ(c.ask(100).prompts_size(), 0);
}

TEST(PromptDispatcher, OrderIsAFunctionOfSeedAndIndexAcrossEpochs) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    DispatcherOptions opt{4, 3, 0, 7, 0};
    PromptDispatcher a(ctx, "tcp://127.0.0.1:*", pub.endpoint(), opt),
        b(ctx, "tcp://127.0.0.1:*", pub.endpoint(), opt);
    const int64_t n = static_cast<int64_t>(ctx.train.size());
    std::set<int64_t> epoch0;
    for (int64_t p = 0; p < n; ++p) {
        EXPECT_EQ(a.prompt_at(p).SerializeAsString(), b.prompt_at(p).SerializeAsString());
        epoch0.insert(a.prompt_at(p).dataset_index());
    }
    EXPECT_EQ(static_cast<int64_t>(epoch0.size()), n);  // each example once per epoch
    EXPECT_EQ(a.epoch(), 0);
    {  // counted, and logged once, when the second pass starts (verl repeats its data silently)
        std::ostringstream log;
        auto before = spdlog::default_logger();
        spdlog::set_default_logger(std::make_shared<spdlog::logger>(
            "epochs", std::make_shared<spdlog::sinks::ostream_sink_st>(log)));
        EXPECT_EQ(a.prompt_at(n).epoch(), 1u);
        EXPECT_EQ(a.prompt_at(n + 1).epoch(), 1u);
        spdlog::set_default_logger(before);
        const std::string want = "data.train: epoch 2 starts at prompt " + std::to_string(n) + ": the " +
                                 std::to_string(n) + " training prompts again, in a new order";
        EXPECT_NE(log.str().find(want), std::string::npos) << log.str();
        EXPECT_EQ(log.str().find(want), log.str().rfind(want)) << "logged once";
    }
    EXPECT_EQ(a.epoch(), 1);
    EXPECT_EQ(a.prompt_at(0).epoch(), 0u);
    EXPECT_EQ(a.epoch(), 1);
    // Resuming at prompt k hands out exactly what the original run would have from k on.
    DispatcherOptions resumed = opt;
    resumed.start_prompt = 8;
    pub.publish(blob(2));
    PromptDispatcher r(ctx, "tcp://127.0.0.1:*", pub.endpoint(), resumed);
    EXPECT_EQ(r.epoch(), 8 / n);
    Client c(r.endpoint(), ctx.job_id);
    let_gate_refresh();
    v1::PromptBatch got = c.ask(100);
    ASSERT_EQ(got.prompts_size(), 4);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(got.prompts(i).prompt_id(), a.prompt_at(8 + i).prompt_id());
}

TEST(PromptDispatcher, BadRequestsAreRejectedCountedAndServiceGoesOn) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    pub.publish(blob(0));
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), DispatcherOptions{4, 3, 0, 1, 0});
    ZmqContext zctx;
    RequestClient raw(zctx, d.endpoint(), ctx.job_id);
    for (const std::string& junk : {std::string("\xff\x00garbage", 9), std::string()}) {
        auto reply = raw.call_raw(junk, 3000);
        ASSERT_TRUE(reply.has_value());
        v1::Envelope e;
        ASSERT_TRUE(e.ParseFromString(*reply));
        EXPECT_TRUE(e.has_error());
    }
    Client other(d.endpoint(), "another-job");
    v1::Envelope req = make_envelope("another-job");
    req.mutable_prompt_request()->set_max_prompts(4);
    auto r = other.rpc.call(req, 3000);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->has_error());
    // A body the scheduler does not serve.
    v1::Envelope wrong = make_envelope(ctx.job_id);
    wrong.mutable_stats_request();
    Client mine(d.endpoint(), ctx.job_id);
    auto w = mine.rpc.call(wrong, 3000);
    ASSERT_TRUE(w.has_value());
    EXPECT_EQ(w->error().code(), v1::ERROR_CODE_UNKNOWN_BODY);
    EXPECT_EQ(d.rejected(), 4u);
    let_gate_refresh();
    EXPECT_EQ(mine.ask(100).prompts_size(), 4);
}

// The trainer's ExtraPrompts (DAPO's replacements) on the dispatcher's socket: the count only grows,
// a negative one is refused and counted, and a job without dynamic sampling acknowledges 0.
TEST(PromptDispatcher, ExtraPromptsOnlyGrowAndBadCountsAreRefused) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    pub.publish(blob(0));
    for (bool dynamic : {true, false}) {
        DispatcherOptions opt{4, 3, 0, 1, 0, dynamic};
        PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), opt);
        Client c(d.endpoint(), ctx.job_id);
        auto send = [&](int64_t total) {
            v1::Envelope e = make_envelope(ctx.job_id);
            e.mutable_extra_prompts()->set_total(total);
            auto reply = c.rpc.call(e, 3000);
            EXPECT_TRUE(reply.has_value());
            return reply ? *reply : v1::Envelope{};
        };
        EXPECT_EQ(send(5).extra_prompts_ack().total(), dynamic ? 5 : 0);
        EXPECT_EQ(send(2).extra_prompts_ack().total(), dynamic ? 5 : 0);  // a late, smaller count
        EXPECT_EQ(send(-1).error().code(), v1::ERROR_CODE_INVALID_ARGUMENT);
        EXPECT_EQ(d.extra_prompts(), dynamic ? 5 : 0);
        EXPECT_EQ(d.rejected(), 1u);
    }
}

// A worker in the middle of a segment round cannot switch weights (hold_version): it gets only prompts
// its own version may generate, however far the trainer's version would open the gate.
TEST(PromptDispatcher, HoldVersionHandsOutOnlyWhatTheWorkersVersionMayGenerate) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(),
                       DispatcherOptions{4, 6, /*max_lag=*/1, 1, 0});
    Client c(d.endpoint(), ctx.job_id);
    pub.publish(blob(2));  // the trainer is at version 2: steps 0..3 are open
    let_gate_refresh();
    auto ask = [&](int64_t holds) {
        v1::Envelope e = make_envelope(ctx.job_id);
        e.mutable_prompt_request()->set_worker_id("w");
        e.mutable_prompt_request()->set_max_prompts(100);
        e.mutable_prompt_request()->set_policy_version(holds);
        e.mutable_prompt_request()->set_hold_version(true);
        auto reply = c.rpc.call(e, 3000);
        EXPECT_TRUE(reply && reply->has_prompt_batch());
        return reply && reply->has_prompt_batch() ? reply->prompt_batch() : v1::PromptBatch{};
    };
    v1::PromptBatch held = ask(0);  // version 0 may generate steps 0 and 1 (min version 0)
    EXPECT_EQ(held.prompts_size(), 8);
    EXPECT_EQ(held.min_policy_version(), 0);
    EXPECT_EQ(ask(0).prompts_size(), 0);
    v1::PromptBatch newer = ask(2);  // the rest of the open steps, 2 and 3
    EXPECT_EQ(newer.prompts_size(), 8);
    EXPECT_LE(newer.min_policy_version(), 2);
    EXPECT_EQ(c.ask(100).prompts_size(), 0);  // without hold: the gate's own limit, reached
}

// Property: whatever the timing of trainer versions and worker requests, no prompt of step s is
// handed out before the trainer reached version s - max_lag, every batch asks for weights of at least
// (its last step - max_lag), and every prompt is handed out exactly once.
TEST(PromptDispatcher, GateHoldsUnderRandomTimings) {
    JobContext ctx = tiny_context();
    std::mt19937 rng(12345);
    for (int lag : {0, 1, 2}) {
        WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
        int64_t version = 0;
        pub.publish(blob(version));
        const int steps = 6, pps = 4;
        PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(),
                           DispatcherOptions{pps, steps, lag, 1, 0});
        Client c(d.endpoint(), ctx.job_id);
        std::set<std::string> seen;
        int requests = 0;
        while (seen.size() < static_cast<size_t>(steps * pps) && requests < 2000) {
            ++requests;
            if (rng() % 4 == 0 && version < steps) pub.publish(blob(++version));
            std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
            v1::PromptBatch b = c.ask(1 + rng() % 6);
            int64_t max_step = -1;
            for (const auto& p : b.prompts()) {
                const int64_t idx = std::stoll(p.prompt_id().substr(1));
                const int64_t step = idx / pps;
                EXPECT_LE(step, version + lag)
                    << "prompt " << idx << " at version " << version << ", lag " << lag;
                EXPECT_TRUE(seen.insert(p.prompt_id()).second) << "handed out twice: " << p.prompt_id();
                max_step = std::max(max_step, step);
            }
            if (max_step >= 0) EXPECT_EQ(b.min_policy_version(), std::max<int64_t>(0, max_step - lag));
        }
        EXPECT_EQ(seen.size(), static_cast<size_t>(steps * pps)) << "lag " << lag;
    }
}

// The dispatcher reads the trainer's version from its weight publisher. A publisher that goes silent
// (the trainer died or hangs) may not hold the dispatcher's serving thread, nor a stop: each read is a
// short attempt, and once the publisher has been silent for deadlines.weights_s every prompt request
// is refused with an error naming the publisher and the key, and failure() says why (the launcher
// stops the job on it).
TEST(PromptDispatcher, ASilentWeightPublisherMakesItGiveUpNamingWhatItWaitedFor) {
    JobContext ctx = tiny_context();
    auto pub = std::make_unique<WeightPublisher>(ctx.job_id, "tcp://127.0.0.1:*");
    pub->publish(blob(0));
    const std::string weights = pub->endpoint();
    DispatcherOptions opt{4, 3, /*max_lag=*/0, 1, 0};
    opt.weights_deadline_s = 1.0;
    auto d = std::make_unique<PromptDispatcher>(ctx, "tcp://127.0.0.1:*", weights, opt);
    Client c(d->endpoint(), ctx.job_id);
    let_gate_refresh();
    EXPECT_EQ(c.ask(100).prompts_size(), 4);
    EXPECT_EQ(d->failure(), "");

    pub.reset();  // the trainer is gone
    const auto start = std::chrono::steady_clock::now();
    std::optional<v1::Envelope> refused;
    while (!refused && std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
        v1::Envelope e = make_envelope(ctx.job_id);
        e.mutable_prompt_request()->set_worker_id("w");
        e.mutable_prompt_request()->set_max_prompts(100);
        auto reply = c.rpc.call(e, 3000);
        ASSERT_TRUE(reply.has_value()) << "a silent publisher held the dispatcher's serving thread";
        if (reply->has_error()) refused = reply;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(refused.has_value()) << "the dispatcher never gave up on a silent publisher";
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_GE(waited, 0.9);  // not before the deadline
    EXPECT_EQ(refused->error().code(), v1::ERROR_CODE_INTERNAL);
    const std::string why = refused->error().message();
    EXPECT_NE(why.find("weight publisher at " + weights), std::string::npos) << why;
    EXPECT_NE(why.find("deadlines.weights_s"), std::string::npos) << why;
    EXPECT_EQ(d->failure(), why);

    const auto stopping = std::chrono::steady_clock::now();
    d.reset();  // a stop is not held by the silent publisher either
    EXPECT_LT(std::chrono::steady_clock::now() - stopping, std::chrono::seconds(2));
}
