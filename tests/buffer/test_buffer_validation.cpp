// tests/buffer/test_buffer_validation.cpp: validation at the door. A sample the trainer could not
// train on (a token outside the vocabulary, a NaN log-prob, too long, from a future or negative policy
// version, a second sample at one index_in_group, too big) is refused whole with INVALID_ARGUMENT and a
// reason naming the sample and the field, and nothing of its put is stored. Real sockets, real RocksDB.
// Also: a client whose stop flag is set returns promptly from a buffer that does not answer, and one
// without fails within its deadline (deadlines.buffer_s) naming the buffer and the key.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <thread>

#include "buffer/buffer_client.h"
#include "buffer/buffer_server.h"
#include "buffer/sample_store.h"
#include "common/base/error.h"
#include "tests/buffer/buffer_test_util.h"

using namespace stride;
using stride::test::fast_options;
using stride::test::make_groups;
using stride::test::make_sample;
using stride::test::TempDir;
using stride::test::test_config;

namespace {

// The job's limits as scheduler/roles.cpp sets them, for a small model.
BufferServerConfig limited_config(const std::string& dir) {
    BufferServerConfig c = test_config(dir, 2);
    c.vocab_size = 2000;  // make_sample's tokens: prompt 0..3, response 1000..1000+tokens
    c.max_position = 64;
    c.max_response_tokens = 32;
    c.max_sample_bytes = 4096;
    c.max_version_ahead = 1;
    return c;
}

// Puts `samples` and expects them refused as invalid, with a message holding every one of `words`.
void expect_refused(BufferClient& client, const std::vector<v1::Sample>& samples,
                    const std::vector<std::string>& words) {
    try {
        client.put(samples);
        ADD_FAILURE() << "put was accepted; expected a refusal naming " << words.front();
    } catch (const BufferRejected& e) {
        EXPECT_EQ(e.code(), v1::ERROR_CODE_INVALID_ARGUMENT) << e.what();
        const std::string what = e.what();
        for (const auto& w : words)
            EXPECT_NE(what.find(w), std::string::npos) << "'" << w << "' not in: " << what;
    }
}

struct Fixture {
    explicit Fixture(const std::string& tag) : dir(tag), cfg(limited_config(dir.sub("db"))), server(cfg) {
        server.start();
    }
    TempDir dir;
    BufferServerConfig cfg;
    BufferServer server;
    ZmqContext ctx;
    BufferClient client{ctx, server.endpoint(), cfg.job_id, fast_options()};
};

}  // namespace

TEST(BufferValidation, TokenIdsMustLieInTheVocabulary) {
    Fixture f("val-vocab");
    v1::Sample big = make_sample("g", 0);
    big.set_response_token_ids(3, 2000);  // == vocab_size
    expect_refused(f.client, {make_sample("g", 1), big},
                   {"sample g-0", "response_token_ids[3]", "2000", "vocabulary"});
    v1::Sample neg = make_sample("h", 0);
    neg.set_prompt_token_ids(1, -5);
    expect_refused(f.client, {neg}, {"sample h-0", "prompt_token_ids[1]", "-5"});
    v1::Sample prompt_big = make_sample("i", 0);
    prompt_big.set_prompt_token_ids(0, 1 << 30);
    expect_refused(f.client, {prompt_big}, {"prompt_token_ids[0]"});
    // The last valid id passes.
    v1::Sample edge = make_sample("j", 0);
    edge.set_response_token_ids(0, 1999);
    f.client.put({edge});
    v1::BufferStats st = f.client.stats();
    EXPECT_EQ(st.stored_samples(), 1u);  // nothing of the refused puts, g-1 included
    EXPECT_EQ(st.rejected_invalid(), 3u);
}

TEST(BufferValidation, LogprobsAndRewardMustBeFinite) {
    Fixture f("val-finite");
    v1::Sample nan_lp = make_sample("a", 0);
    nan_lp.set_behaviour_logprob(2, std::nanf(""));
    expect_refused(f.client, {nan_lp}, {"sample a-0", "behaviour_logprob[2]"});
    v1::Sample inf_lp = make_sample("b", 0);
    inf_lp.set_behaviour_logprob(0, -std::numeric_limits<float>::infinity());
    expect_refused(f.client, {inf_lp}, {"behaviour_logprob[0]"});
    v1::Sample positive = make_sample("c", 0);
    positive.set_behaviour_logprob(1, 0.5f);  // a probability above 1
    expect_refused(f.client, {positive}, {"behaviour_logprob[1]"});
    v1::Sample nan_reward = make_sample("d", 0);
    nan_reward.set_reward(std::nanf(""));
    expect_refused(f.client, {nan_reward}, {"sample d-0", "reward"});
    v1::Sample inf_reward = make_sample("e", 0);
    inf_reward.set_reward(std::numeric_limits<float>::infinity());
    expect_refused(f.client, {inf_reward}, {"reward"});
    // Rounding a hair above 0 is a log-prob of 1, not garbage.
    v1::Sample rounding = make_sample("f", 0);
    rounding.set_behaviour_logprob(0, 1e-6f);
    f.client.put({rounding});
    EXPECT_EQ(f.client.stats().stored_samples(), 1u);
}

TEST(BufferValidation, ResponseAndSequenceLengthLimits) {
    Fixture f("val-length");
    f.client.put({make_sample("ok", 0, 0, 32)});  // exactly max_response_tokens
    expect_refused(f.client, {make_sample("long", 0, 0, 33)},
                   {"sample long-0", "response_token_ids", "33", "rollout.max_tokens 32"});
    v1::Sample seq = make_sample("seq", 0, 0, 30);             // 4 prompt + 30 response = 34 <= 64
    for (int i = 0; i < 31; ++i) seq.add_prompt_token_ids(7);  // 35 + 30 = 65 > 64
    expect_refused(
        f.client, {seq},
        {"sample seq-0", "prompt_token_ids + response_token_ids", "65", "max_position_embeddings 64"});
    EXPECT_EQ(f.client.stats().stored_samples(), 1u);
}

TEST(BufferValidation, SampleSizeLimit) {
    Fixture f("val-bytes");
    v1::Sample fat = make_sample("fat", 0);
    fat.set_reward_detail(std::string(5000, 'x'));  // 4096 allowed
    expect_refused(f.client, {fat}, {"sample fat-0", "bytes", "4096"});
    v1::Sample slim = make_sample("slim", 0);
    slim.set_reward_detail(std::string(1000, 'x'));
    f.client.put({slim});
    EXPECT_EQ(f.client.stats().stored_samples(), 1u);
}

TEST(BufferValidation, VersionsMustBeNonNegativeAndNotFromTheFuture) {
    TempDir dir("val-version");
    BufferServerConfig cfg = limited_config(dir.sub("db"));
    {
        BufferServer server(cfg);
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());
        // No pull yet: the trainer's version is unknown (a resumed trainer may hold any), so only
        // negative versions are refused.
        client.put({make_sample("early", 0, 40)});
        v1::Sample neg = make_sample("neg", 0, 0);
        neg.set_token_version(0, -1);
        expect_refused(client, {neg}, {"token_version[0] = -1", "negative"});
        // The trainer pulls with version 0: it may publish 1 next, not 2.
        client.pull(1, 0, /*allow_partial=*/true);
        client.put({make_sample("v1", 0, 1)});
        expect_refused(client, {make_sample("v2", 0, 2)}, {"sample v2-0", "policy_version = 2", "ahead"});
        v1::Sample mixed = make_sample("mixed", 0, 1);
        mixed.set_token_version(5, 9);
        expect_refused(client, {mixed}, {"sample mixed-0", "token_version[5] = 9"});
        v1::Sample neg_policy = make_sample("negp", 0, 0);
        neg_policy.set_policy_version(-3);
        expect_refused(client, {neg_policy}, {"policy_version = -3", "negative"});
        // The trainer pulls with version 5: it may publish 6 next, not 7.
        client.pull(1, 5, /*allow_partial=*/true);
        client.put({make_sample("v6", 0, 6)});
        expect_refused(client, {make_sample("v7", 0, 7)}, {"policy_version = 7"});
        // A pull with an older version (a trainer resumed from an older checkpoint) lowers nothing.
        client.pull(1, 3, /*allow_partial=*/true);
        client.put({make_sample("v6b", 0, 6)});
    }
    // A restarted buffer remembers the newest trainer version it saw.
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());
    client.put({make_sample("after", 0, 6)});
    expect_refused(client, {make_sample("after7", 0, 7)}, {"policy_version = 7"});
}

TEST(BufferValidation, NegativeVersionsAreRefusedEvenWithoutJobLimits) {
    TempDir dir("val-neg-default");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);  // no job limits: future versions pass
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());
    client.put({make_sample("far", 0, 1000)});
    expect_refused(client, {make_sample("neg", 0, -1)}, {"negative"});
}

TEST(BufferValidation, DuplicateIndexInGroupIsRefused) {
    Fixture f("val-dup-index");
    f.client.put({make_sample("g", 0)});
    // Another sample (new id) at index 0 of g: the group would be "complete" with member 1 missing.
    v1::Sample again = make_sample("g", 0);
    again.set_sample_id("g-0-other");
    expect_refused(f.client, {again}, {"sample g-0-other", "index_in_group 0", "group g"});
    // Two at one index within a single put.
    v1::Sample twin = make_sample("h", 1);
    twin.set_sample_id("h-1-twin");
    expect_refused(f.client, {make_sample("h", 1), twin}, {"sample h-1-twin", "index_in_group 1"});
    // A retry of the stored sample (same id) is still acknowledged as a duplicate.
    EXPECT_EQ(f.client.put({make_sample("g", 0)}).duplicates(), 1u);
    v1::BufferStats st = f.client.stats();
    EXPECT_EQ(st.stored_samples(), 1u);
    EXPECT_EQ(st.groups_complete(), 0u);
    f.client.put({make_sample("g", 1)});
    EXPECT_EQ(f.client.stats().groups_complete(), 1u);
}

TEST(BufferValidation, DuplicateIndexIsRefusedAfterARestart) {
    TempDir dir("val-dup-restart");
    BufferServerConfig cfg = limited_config(dir.sub("db"));
    {
        BufferServer server(cfg);
        server.start();
        ZmqContext ctx;
        BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());
        client.put({make_sample("g", 0)});
    }
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());
    v1::Sample again = make_sample("g", 0);
    again.set_sample_id("g-0-other");
    expect_refused(client, {again}, {"index_in_group 0"});
}

TEST(BufferValidation, InvalidGroupsStoredEarlierAreDeletedAtRestart) {
    // What a buffer without these checks (an older version, or other limits) may have stored: written
    // straight into the RocksDB directory.
    TempDir dir("val-recover");
    BufferServerConfig cfg = limited_config(dir.sub("db"));
    {
        SampleStore store(cfg.dir, false);
        StoreBatch wb;
        auto put = [&](const v1::Sample& s) {
            wb.put_sample(s.group_id(), s.sample_id(), s.SerializeAsString());
        };
        put(make_sample("good", 0, 7));  // versions ahead and longer responses are not re-checked
        put(make_sample("good", 1, 7, 40));
        v1::Sample oov = make_sample("oov", 0);
        oov.set_response_token_ids(0, 5000);
        put(oov);
        put(make_sample("oov", 1));
        put(make_sample("twice", 0));
        v1::Sample twin = make_sample("twice", 0);
        twin.set_sample_id("twice-0-twin");
        put(twin);
        v1::Sample nan = make_sample("nan", 1);
        nan.set_behaviour_logprob(0, std::nanf(""));
        put(nan);
        ASSERT_EQ(store.write(wb, true), "");
    }
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, fast_options());
    v1::BufferStats st = client.stats();
    EXPECT_EQ(st.recovered_samples(), 2u);
    EXPECT_EQ(st.stored_samples(), 2u);
    v1::Batch b = client.pull(10, 7, /*allow_partial=*/true);
    ASSERT_EQ(b.groups_size(), 1);
    EXPECT_EQ(b.groups(0).group_id(), "good");
    // Gone from disk too: the "oov" group can be put again, validly.
    client.put({make_sample("oov", 0), make_sample("oov", 1)});
    EXPECT_EQ(client.stats().groups_complete(), 1u);
}

// ---- stop --------------------------------------------------------------------------------------

TEST(BufferClientStop, ACallToADeadBufferReturnsSoonAfterStop) {
    // An endpoint nobody serves: without a stop flag every call would wait out its 60 s deadline.
    ZmqContext ctx;
    std::atomic<bool> stop{false};
    BufferClientOptions o;
    o.stop = &stop;  // call_timeout_ms and deadline_ms keep their defaults (5 s, 60 s)
    BufferClient client(ctx, "tcp://127.0.0.1:1", "test-job", o);
    using Clock = std::chrono::steady_clock;

    auto stop_after = [&](int ms) {
        return std::thread([&stop, ms] {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            stop = true;
        });
    };
    std::thread t = stop_after(300);
    auto t0 = Clock::now();
    EXPECT_THROW(client.put({make_sample("g", 0)}), BufferStopped);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    t.join();
    EXPECT_GE(s, 0.25);
    EXPECT_LT(s, 1.3) << "put returned " << s << " s after start, stop was set at 0.3 s";

    // Already stopped: one attempt each, waited on for at most stop_grace_ms (500): pull and
    // pull_wait answer "no batch", commit throws BufferStopped.
    t0 = Clock::now();
    EXPECT_EQ(client.pull(1, 0).batch_id(), 0u);
    EXPECT_EQ(client.pull_wait(1, 0, 30000).batch_id(), 0u);
    EXPECT_THROW(client.commit(7), BufferStopped);
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 3 * 0.5 + 0.5);

    // pull_wait on a live but empty buffer stops polling too.
    TempDir dir("stop-live");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    BufferServer server(cfg);
    server.start();
    stop = false;
    BufferClient live(ctx, server.endpoint(), cfg.job_id, o);
    t = stop_after(200);
    t0 = Clock::now();
    EXPECT_EQ(live.pull_wait(1, 0, 30000).batch_id(), 0u);
    s = std::chrono::duration<double>(Clock::now() - t0).count();
    t.join();
    EXPECT_LT(s, 1.2);
}

TEST(BufferClientStop, ALiveBufferStillAnswersAStoppingCaller) {
    // Stop gives up waiting on a dead buffer; a buffer that answers is still heard (a stopping
    // rollout worker still puts what it finished).
    TempDir dir("stop-answer");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    BufferServer server(cfg);
    server.start();
    ZmqContext ctx;
    std::atomic<bool> stop{true};
    BufferClientOptions o;
    o.stop = &stop;
    BufferClient client(ctx, server.endpoint(), cfg.job_id, o);
    // The attempt goes out even when stopping; only retries and back-offs are cut.
    client.put(make_groups("a", 1, 2));
    EXPECT_EQ(client.pull(1, 0).groups_size(), 1);
}

// ---- deadline ----------------------------------------------------------------------------------

TEST(BufferClientDeadline, ABufferThatStopsAnsweringFailsTheCallWithinTheDeadlineNamingItAndTheKey) {
    // A live buffer first, then the same endpoint dead (stopped): the job's options
    // (deadlines.buffer_s = 1.5) bound every call, and the error says which buffer and which key.
    TempDir dir("deadline");
    BufferServerConfig cfg = test_config(dir.sub("db"), 2);
    auto server = std::make_unique<BufferServer>(cfg);
    server->start();
    const std::string endpoint = server->endpoint();
    ZmqContext ctx;
    DeadlinesConfig deadlines;
    deadlines.buffer_s = 1.5;
    BufferClient client(ctx, endpoint, cfg.job_id, buffer_client_options(deadlines, nullptr));
    client.put(make_groups("a", 1, 2));
    server->stop();
    server.reset();
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    try {
        client.pull(1, 0);
        FAIL() << "a pull from a dead buffer returned";
    } catch (const PeerUnreachable& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.peer(), "buffer");
        EXPECT_NE(what.find(endpoint), std::string::npos) << what;
        EXPECT_NE(what.find("deadlines.buffer_s"), std::string::npos) << what;
        EXPECT_NE(what.find("1500 ms"), std::string::npos) << what;
    }
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    EXPECT_GE(s, 1.4) << "gave up before the deadline";
    EXPECT_LT(s, 5.0) << "the deadline is 1.5 s, the call took " << s << " s";
}
