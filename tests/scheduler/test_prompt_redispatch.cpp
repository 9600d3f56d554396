// The dispatcher's re-dispatch (issue #18) over real sockets: the prompts a lost worker held go to the
// next worker that asks, a restarted worker's unreported prompts too, a resume's RedispatchPrompts
// brings back prompts before the cursor, a retried request gets the same prompts, and nobody is told
// `finished` while another worker may still be lost with prompts.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/messaging.h"
#include "common/weight_sync.h"
#include "job/job_context.h"
#include "scheduler/job_config.h"
#include "scheduler/prompt_dispatcher.h"

using namespace stride;

namespace {

JobContext tiny_context() {
    const std::string yaml = std::string("name: redisp\ntokenizer: ") + STRIDE_SOURCE_DIR +
                             "/configs/tokenizers/arith/tokenizer.json\n"
                             "data: {train: 'gen:arith?n=30&seed=4', eval_size: 5}\n"
                             "rollout: {n: 2, max_tokens: 4}\nreward: {fn: arith}\n"
                             "trainer: {steps: 3, prompts_per_step: 4}\n";
    return make_job_context(parse_job_config(yaml, "test.yaml"));
}

WeightBlob blob(int64_t v) {
    WeightBlob b;
    b.version = v;
    b.bytes.assign(16, 0);
    return b;
}

struct Worker {
    ZmqContext ctx;
    RequestClient rpc;
    std::string id, run;
    uint64_t seq = 0;
    Worker(const std::string& ep, const std::string& job, std::string worker, std::string run_id)
        : rpc(ctx, ep, job), id(std::move(worker)), run(std::move(run_id)) {}
    // Asks for up to n prompts reporting `inflight`; repeat = a retry of the previous request.
    v1::PromptBatch ask(uint32_t n, const std::vector<std::string>& inflight, bool repeat = false) {
        v1::Envelope e = make_envelope(rpc.job_id());
        v1::PromptRequest* pr = e.mutable_prompt_request();
        pr->set_worker_id(id);
        pr->set_worker_run(run);
        pr->set_max_prompts(n);
        if (!repeat) ++seq;
        pr->set_request_seq(seq);
        for (const auto& p : inflight) pr->add_inflight_prompt_ids(p);
        auto reply = rpc.call(e, 3000);
        EXPECT_TRUE(reply && reply->has_prompt_batch()) << (reply ? reply->DebugString() : "no reply");
        return reply && reply->has_prompt_batch() ? reply->prompt_batch() : v1::PromptBatch{};
    }
};

std::vector<std::string> ids(const v1::PromptBatch& b) {
    std::vector<std::string> out;
    for (const auto& p : b.prompts()) out.push_back(p.prompt_id());
    return out;
}

void let_gate_refresh() {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
}

}  // namespace

TEST(PromptRedispatch, ALostWorkersPromptsGoToTheNextWorkerMarkedAsHandedOutAgain) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    pub.publish(blob(0));
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), DispatcherOptions{4, 3, 0, 1, 0});
    Worker a(d.endpoint(), ctx.job_id, "rollout-0", "a1"), b(d.endpoint(), ctx.job_id, "rollout-1", "b1");
    let_gate_refresh();
    const std::vector<std::string> held = ids(a.ask(3, {}));  // p0 p1 p2
    ASSERT_EQ(held.size(), 3u);
    EXPECT_EQ(ids(b.ask(4, {})), std::vector<std::string>{"p3"});  // step 0 has 4 prompts
    // a put p0 and reports p1, p2 in flight; then it is lost.
    EXPECT_EQ(a.ask(1, {"p1", "p2"}).prompts_size(), 0);
    d.release_worker("rollout-0");
    const v1::PromptBatch again = b.ask(4, {"p3"});
    EXPECT_EQ(ids(again), (std::vector<std::string>{"p1", "p2"}));  // not p0: it was put
    for (const auto& p : again.prompts()) EXPECT_TRUE(p.redispatched()) << p.prompt_id();
    EXPECT_EQ(again.min_policy_version(), 0);
    EXPECT_EQ(d.redispatched(), 2);
    EXPECT_EQ(d.dispatched(), 4);                               // the cursor did not move for them
    EXPECT_EQ(b.ask(4, {"p1", "p2", "p3"}).prompts_size(), 0);  // each once
}

TEST(PromptRedispatch, ARestartedWorkerKeepsWhatItResumedAndTheRestIsHandedOutAgain) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    pub.publish(blob(0));
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), DispatcherOptions{4, 3, 0, 1, 0});
    Worker a(d.endpoint(), ctx.job_id, "rollout-0", "run-1");
    let_gate_refresh();
    ASSERT_EQ(a.ask(4, {}).prompts_size(), 4);  // p0..p3
    // kill -9; the new run resumed p1 and p3 from its saved records, p0 and p2 were lost with the old.
    Worker a2(d.endpoint(), ctx.job_id, "rollout-0", "run-2");
    const v1::PromptBatch b = a2.ask(4, {"p1", "p3"});
    EXPECT_EQ(ids(b), (std::vector<std::string>{"p0", "p2"}));
    // The same run asking again with less in flight has put the rest: nothing more comes back.
    EXPECT_EQ(a2.ask(4, {"p0"}).prompts_size(), 0);
    EXPECT_EQ(d.redispatched(), 2);
}

TEST(PromptRedispatch, ARetriedRequestGetsTheSamePromptsAndNoneIsLost) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    pub.publish(blob(1));  // steps 0 and 1 open with lag 0 at version 1
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), DispatcherOptions{4, 3, 0, 1, 0});
    Worker a(d.endpoint(), ctx.job_id, "rollout-0", "r");
    let_gate_refresh();
    const auto first = ids(a.ask(2, {}));
    EXPECT_EQ(ids(a.ask(2, {}, /*repeat=*/true)), first);  // the reply was lost: the same again
    EXPECT_EQ(d.dispatched(), 2);
    EXPECT_EQ(ids(a.ask(2, first)), (std::vector<std::string>{"p2", "p3"}));  // a new request moves on
}

TEST(PromptRedispatch, NobodyIsToldFinishedWhileAnotherWorkerHoldsPrompts) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    pub.publish(blob(2));  // the last step is open: every prompt may go
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(), DispatcherOptions{4, 3, 0, 1, 0});
    Worker a(d.endpoint(), ctx.job_id, "rollout-0", "a"), b(d.endpoint(), ctx.job_id, "rollout-1", "b");
    let_gate_refresh();
    const auto a_held = ids(a.ask(100, {}));  // all 12
    ASSERT_EQ(a_held.size(), 12u);
    v1::PromptBatch wait = b.ask(4, {});
    EXPECT_FALSE(wait.finished()) << "rollout-0 still holds 12 prompts";
    EXPECT_GT(wait.retry_after_ms(), 0u);
    d.release_worker("rollout-0");
    std::set<std::string> got;
    for (int i = 0; i < 3; ++i) {
        const v1::PromptBatch again = b.ask(4, std::vector<std::string>(got.begin(), got.end()));
        EXPECT_FALSE(again.finished());
        for (const auto& id : ids(again)) got.insert(id);
    }
    EXPECT_EQ(got.size(), 12u);
    // Nobody else holds any: b finishes what it holds and is told there is nothing more.
    EXPECT_TRUE(b.ask(4, std::vector<std::string>(got.begin(), got.end())).finished());
}

TEST(PromptRedispatch, AResumesDeletedPromptsBeforeTheCursorComeBackOnceAndBadIdsAreRefused) {
    JobContext ctx = tiny_context();
    WeightPublisher pub(ctx.job_id, "tcp://127.0.0.1:*");
    pub.publish(blob(1));
    // A resumed job: prompts p0..p7 were handed out by the previous run.
    PromptDispatcher d(ctx, "tcp://127.0.0.1:*", pub.endpoint(),
                       DispatcherOptions{4, 3, 0, 1, /*start_prompt=*/8});
    Worker a(d.endpoint(), ctx.job_id, "rollout-0", "r");
    ZmqContext zctx;
    RequestClient trainer(zctx, d.endpoint(), ctx.job_id);
    auto redispatch = [&](std::vector<std::string> prompt_ids) {
        v1::Envelope e = make_envelope(ctx.job_id);
        for (const auto& p : prompt_ids) e.mutable_redispatch_prompts()->add_prompt_ids(p);
        return trainer.call(e, 3000);
    };
    // p6 and p7 were deleted by the resume; p9 lies ahead of the cursor and comes in its turn anyway.
    auto ack = redispatch({"p6", "p7", "p9"});
    ASSERT_TRUE(ack && ack->has_redispatch_prompts_ack()) << (ack ? ack->DebugString() : "no reply");
    EXPECT_EQ(ack->redispatch_prompts_ack().queued(), 2u);
    ack = redispatch({"p6"});  // a retried message queues nothing twice
    ASSERT_TRUE(ack && ack->has_redispatch_prompts_ack());
    EXPECT_EQ(ack->redispatch_prompts_ack().queued(), 0u);
    let_gate_refresh();
    EXPECT_EQ(ids(a.ask(100, {})), (std::vector<std::string>{"p6", "p7"}));  // step 1 is full already
    auto bad = redispatch({"p1", "group-x"});
    ASSERT_TRUE(bad && bad->has_error());
    EXPECT_EQ(bad->error().code(), v1::ERROR_CODE_INVALID_ARGUMENT);
    EXPECT_NE(bad->error().message().find("group-x"), std::string::npos) << bad->error().message();
    EXPECT_EQ(d.rejected(), 1u);
}
