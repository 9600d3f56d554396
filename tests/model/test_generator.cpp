// Continuous batching: many requests of different lengths all finish, each produces exactly the
// tokens it produces when run alone with the same seed (batch composition, chunked prefill and
// preemption do not matter), behaviour log-probs equal the trainer's recomputation, groups share
// their prompt, weight swaps with KV recompute, and every KV block is returned at the end.
#include <gtest/gtest.h>

#include <map>
#include <utility>
#include <vector>

#include "common/base/error.h"
#include "model/generator.h"
#include "model/transformer.h"
#include "tests/model/transformer_test_util.h"

namespace stride {
namespace {

using Key = std::pair<uint64_t, int>;  // (request id, sample index)

std::vector<GenerationRequest> mixed_requests(int V) {
    std::vector<GenerationRequest> reqs;
    const int prompt_lens[] = {1, 7, 33, 4, 12, 2, 25, 9, 16, 3, 40, 5};
    for (int i = 0; i < 12; ++i) {
        GenerationRequest r;
        r.id = 100 + i;
        r.prompt = test::random_tokens(prompt_lens[i], V, 1000 + i);
        r.max_new_tokens = 3 + (i * 7) % 18;
        if (i % 2 == 0) r.stop_tokens = {0, 1, 2, 3, 4, 5, 6, 7};  // frequent: many stop early
        r.sampling.temperature = i % 3 == 0 ? 0.7f : 1.0f;
        r.sampling.seed = 7 + i;
        reqs.push_back(r);
    }
    return reqs;
}

std::map<Key, GeneratedSequence> by_key(std::vector<GeneratedSequence> v) {
    std::map<Key, GeneratedSequence> m;
    for (auto& g : v) m[{g.request_id, g.sample_index}] = std::move(g);
    return m;
}

// Behaviour log-probs equal Transformer::forward on prompt + generated at the request's temperature.
void expect_logprobs_match_trainer(const Model& model, const GenerationRequest& r,
                                   const GeneratedSequence& g) {
    std::vector<int> full = r.prompt;
    full.insert(full.end(), g.tokens.begin(), g.tokens.end());
    PackedBatch batch;
    batch.add_sequence(full);
    Transformer tf(model);
    ForwardOptions opt;
    opt.temperature = r.sampling.temperature;
    TokenScores sc = tf.forward(batch, opt);
    for (size_t j = 0; j < g.tokens.size(); ++j)
        EXPECT_NEAR(g.logprobs[j], sc.logprob[r.prompt.size() + j], 2e-4)
            << "request " << r.id << " token " << j;
}

class GeneratorTest : public ::testing::Test {
   protected:
    GeneratorTest() : model(test::tiny_qwen3()) { test::randomize_model(model, 21); }
    Model model;
};

TEST_F(GeneratorTest, ManyRequestsMatchRunningAlone) {
    const int V = model.config().vocab;
    auto reqs = mixed_requests(V);

    // Alone: one request at a time, roomy pool, no chunking.
    std::map<Key, GeneratedSequence> alone;
    for (const auto& r : reqs) {
        GeneratorOptions o;
        o.kv_blocks = 64, o.block_size = 4, o.max_running = 1, o.max_batch_tokens = 64;
        Generator g(model, o);
        g.add(r);
        auto out = by_key(g.run_until_done());
        alone.insert(out.begin(), out.end());
    }

    // Together: 4 running at once, prefill chunks of at most 16 tokens, and a pool so small that
    // sequences get preempted and recomputed.
    GeneratorOptions o;
    o.kv_blocks = 16, o.block_size = 4, o.max_running = 4, o.max_batch_tokens = 16;
    Generator gen(model, o);
    for (const auto& r : reqs) gen.add(r);
    EXPECT_EQ(gen.num_waiting(), 12);
    std::vector<GeneratedSequence> all;
    int steps = 0, max_running = 0;
    while (!gen.done()) {
        for (auto& f : gen.step()) all.push_back(std::move(f));
        max_running = std::max(max_running, gen.num_running());
        ASSERT_LT(++steps, 10000);
    }
    EXPECT_LE(max_running, 4);
    EXPECT_GT(gen.stats().preemptions, 0) << "the pool should be small enough to force preemption";
    EXPECT_EQ(gen.cache().blocks_used(), 0);
    EXPECT_EQ(gen.cache().seq_count(), 0);

    auto together = by_key(std::move(all));
    ASSERT_EQ(together.size(), reqs.size());
    int stopped = 0;
    for (const auto& r : reqs) {
        const GeneratedSequence& a = alone.at({r.id, 0});
        const GeneratedSequence& b = together.at({r.id, 0});
        EXPECT_EQ(a.tokens, b.tokens) << "request " << r.id;
        EXPECT_EQ(a.reason, b.reason);
        ASSERT_EQ(b.logprobs.size(), b.tokens.size());
        for (size_t j = 0; j < a.logprobs.size() && j < b.logprobs.size(); ++j)
            EXPECT_NEAR(a.logprobs[j], b.logprobs[j], 1e-4);
        if (b.reason == FinishReason::stop) {
            ++stopped;
            int last = b.tokens.back();
            EXPECT_NE(std::find(r.stop_tokens.begin(), r.stop_tokens.end(), last), r.stop_tokens.end());
            EXPECT_LE(static_cast<int>(b.tokens.size()), r.max_new_tokens);
        } else {
            EXPECT_EQ(static_cast<int>(b.tokens.size()), r.max_new_tokens);
            for (int t : b.tokens)
                EXPECT_EQ(std::find(r.stop_tokens.begin(), r.stop_tokens.end(), t), r.stop_tokens.end());
        }
        expect_logprobs_match_trainer(model, r, b);
    }
    EXPECT_GT(stopped, 0);
}

TEST_F(GeneratorTest, GroupSharesPromptAndIsIndependentOfBatchMix) {
    const int V = model.config().vocab;
    GenerationRequest group;
    group.id = 1;
    group.prompt = test::random_tokens(10, V, 3);
    group.max_new_tokens = 8;
    group.n = 4;
    group.sampling.seed = 99;

    GeneratorOptions o;
    o.kv_blocks = 64, o.block_size = 4, o.max_running = 8, o.max_batch_tokens = 64;
    Generator solo(model, o);
    solo.add(group);
    solo.step();  // prefill once + first token of all 4 samples
    EXPECT_EQ(solo.stats().prefill_tokens, 10);
    EXPECT_EQ(solo.num_running(), 4);
    EXPECT_EQ(solo.cache().blocks_used(), 3);  // 2 full + 1 partial block, shared by all 4
    solo.step();  // each sample writes its first token: 3 private copies of the partial block
    EXPECT_EQ(solo.cache().blocks_used(), 3 + 3);
    auto a = by_key(solo.run_until_done());
    EXPECT_EQ(solo.cache().blocks_used(), 0);
    ASSERT_EQ(a.size(), 4u);
    EXPECT_NE(a.at({1, 0}).tokens, a.at({1, 1}).tokens);  // different streams

    // The same group among other traffic, admitted later.
    Generator mixed(model, o);
    for (auto r : mixed_requests(V)) {
        r.n = 2;
        mixed.add(r);
        if (r.id == 103) mixed.add(group);
    }
    auto b = by_key(mixed.run_until_done());
    EXPECT_EQ(b.size(), 12u * 2 + 4);
    for (int k = 0; k < 4; ++k) {
        EXPECT_EQ(a.at({1, k}).tokens, b.at({1, k}).tokens) << "sample " << k;
        expect_logprobs_match_trainer(model, group, b.at({1, k}));
    }
    EXPECT_EQ(mixed.cache().blocks_used(), 0);
}

// RL weight update in the middle of generation: overwrite the weights, drop the KV, continue. Tokens
// sampled after the swap carry the new model's log-probs (recomputed prefix).
TEST_F(GeneratorTest, WeightSwapWithRecompute) {
    const int V = model.config().vocab;
    Model live(model);  // the generator reads this buffer
    Model updated(model.config());
    test::randomize_model(updated, 77);
    GenerationRequest r;
    r.id = 5;
    r.prompt = test::random_tokens(6, V, 8);
    r.max_new_tokens = 10;
    r.sampling.seed = 3;
    GeneratorOptions o;
    o.kv_blocks = 32, o.block_size = 4;
    Generator gen(live, o);
    gen.set_policy_version(7);
    gen.add(r);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(gen.step().empty());  // 4 tokens with the old weights
    live.data = updated.data;
    gen.drop_kv();
    gen.set_policy_version(8);
    EXPECT_EQ(gen.cache().blocks_used(), 0);
    auto out = gen.run_until_done();
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].tokens.size(), 10u);
    EXPECT_EQ(gen.stats().prefill_tokens, 6 + 6 + 4);  // prompt, then prompt + 4 generated again

    std::vector<int> full = r.prompt;
    full.insert(full.end(), out[0].tokens.begin(), out[0].tokens.end());
    PackedBatch batch;
    batch.add_sequence(full);
    TokenScores old_sc = Transformer(model).forward(batch);
    TokenScores new_sc = Transformer(updated).forward(batch);
    ASSERT_EQ(out[0].versions.size(), 10u);
    for (int j = 0; j < 10; ++j) {
        const float expected = j < 4 ? old_sc.logprob[6 + j] : new_sc.logprob[6 + j];
        EXPECT_NEAR(out[0].logprobs[j], expected, 2e-4) << "token " << j;
        EXPECT_EQ(out[0].versions[j], j < 4 ? 7 : 8) << "token " << j;  // the version that sampled it
    }
}

TEST_F(GeneratorTest, BadRequestsThrow) {
    GeneratorOptions o;
    o.kv_blocks = 4, o.block_size = 4;
    Generator gen(model, o);
    GenerationRequest r;
    EXPECT_THROW(gen.add(r), Error);  // empty prompt
    r.prompt = {model.config().vocab};
    EXPECT_THROW(gen.add(r), Error);  // out of vocabulary
    r.prompt = {1, 2, 3};
    r.max_new_tokens = 14;  // 17 tokens > 4 blocks of 4
    EXPECT_THROW(gen.add(r), Error);
    r.max_new_tokens = 4;
    r.sampling.top_p = 1.5f;
    EXPECT_THROW(gen.add(r), Error);
    r.sampling.top_p = 1.0f;
    gen.add(r);
    auto out = gen.run_until_done();
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].tokens.size(), 4u);
    o.max_batch_tokens = 2, o.max_running = 4;
    EXPECT_THROW(Generator(model, o), Error);
}

}  // namespace
}  // namespace stride
