// Segment rollout in the generator: a request decodes at most segment_tokens per round, parks, and
// continues at begin_round(). Segmenting alone (no weight change, KV kept) draws exactly the tokens of
// an unsegmented run, also when parked KV is evicted and re-prefilled; a weight change between rounds
// is recorded per token with the log-probs of the model that sampled it; unfinished sequences can be
// snapshotted and resumed in another generator.
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

std::vector<GenerationRequest> requests(int V, int segment_tokens) {
    std::vector<GenerationRequest> reqs;
    const int prompt_lens[] = {1, 7, 33, 4, 12, 2, 25, 9};
    for (int i = 0; i < 8; ++i) {
        GenerationRequest r;
        r.id = 200 + i;
        r.prompt = test::random_tokens(prompt_lens[i], V, 500 + i);
        r.max_new_tokens = 5 + (i * 5) % 17;
        if (i % 3 == 0) r.stop_tokens = {0, 1, 2, 3};
        r.sampling.seed = 11 + i;
        r.n = i % 2 == 0 ? 2 : 1;
        r.segment_tokens = segment_tokens;
        reqs.push_back(r);
    }
    return reqs;
}

std::map<Key, GeneratedSequence> by_key(std::vector<GeneratedSequence> v) {
    std::map<Key, GeneratedSequence> m;
    for (auto& g : v) m[{g.request_id, g.sample_index}] = std::move(g);
    return m;
}

// Runs round by round; checks that no sequence grows by more than one segment per round and that a
// round ends with every unfinished sequence parked.
std::vector<GeneratedSequence> run_in_rounds(Generator& gen, int segment_tokens, int* rounds) {
    std::vector<GeneratedSequence> all;
    *rounds = 0;
    while (!gen.done()) {
        std::map<Key, size_t> before;
        for (const auto& u : gen.unfinished()) before[{u.request_id, u.sample_index}] = u.tokens.size();
        while (!gen.round_done()) {
            for (auto& f : gen.step()) {
                const size_t start = before[Key(f.request_id, f.sample_index)];
                EXPECT_LE(f.tokens.size(), start + segment_tokens);
                all.push_back(std::move(f));
            }
        }
        ++*rounds;
        EXPECT_TRUE(gen.step().empty()) << "a finished round does nothing until begin_round()";
        EXPECT_EQ(gen.num_running(), 0);
        for (const auto& u : gen.unfinished()) {
            const auto it = before.find({u.request_id, u.sample_index});
            const size_t start = it == before.end() ? 0 : it->second;
            EXPECT_EQ(u.tokens.size(), start + segment_tokens) << "a parked sequence did a whole segment";
        }
        EXPECT_EQ(static_cast<int>(gen.unfinished().size()), gen.num_parked());
        gen.begin_round();
    }
    return all;
}

void expect_segment_starts(const GeneratedSequence& g, int segment_tokens) {
    std::vector<int> want;
    for (int s = 0; s < static_cast<int>(g.tokens.size()); s += segment_tokens) want.push_back(s);
    EXPECT_EQ(g.segment_starts, want) << "request " << g.request_id << " sample " << g.sample_index;
}

class GeneratorSegmentsTest : public ::testing::Test {
   protected:
    GeneratorSegmentsTest() : model(test::tiny_qwen3()) { test::randomize_model(model, 21); }
    std::map<Key, GeneratedSequence> unsegmented() {
        GeneratorOptions o;
        o.kv_blocks = 64, o.block_size = 4, o.max_running = 16, o.max_batch_tokens = 64;
        Generator g(model, o);
        for (const auto& r : requests(model.config().vocab, 0)) g.add(r);
        return by_key(g.run_until_done());
    }
    Model model;
};

TEST_F(GeneratorSegmentsTest, SegmentedWithKeptKvDrawsTheSameTokens) {
    const auto want = unsegmented();
    GeneratorOptions o;
    o.kv_blocks = 64, o.block_size = 4, o.max_running = 16, o.max_batch_tokens = 64;
    Generator gen(model, o);
    for (const auto& r : requests(model.config().vocab, 4)) gen.add(r);
    int rounds = 0;
    auto got = by_key(run_in_rounds(gen, 4, &rounds));
    ASSERT_EQ(got.size(), want.size());
    EXPECT_GE(rounds, 5);  // the longest response (21 tokens) needs 6 segments of 4
    EXPECT_GT(gen.stats().parks, 0);
    EXPECT_EQ(gen.stats().evictions, 0);
    int multi = 0;
    for (const auto& [k, w] : want) {
        const GeneratedSequence& g = got.at(k);
        EXPECT_EQ(g.tokens, w.tokens) << "request " << k.first << " sample " << k.second;
        EXPECT_EQ(g.reason, w.reason);
        ASSERT_EQ(g.logprobs.size(), w.logprobs.size());
        for (size_t j = 0; j < g.logprobs.size(); ++j) EXPECT_NEAR(g.logprobs[j], w.logprobs[j], 1e-5);
        expect_segment_starts(g, 4);
        EXPECT_EQ(w.segment_starts, std::vector<int>{0});
        multi += g.segment_starts.size() > 1;
    }
    EXPECT_GT(multi, 3);
    EXPECT_EQ(gen.cache().blocks_used(), 0);
}

// Requests that join a round under way (async rollout fills seats freed mid-round) get what is left of
// the round as their first segment: they park when the round's carried-over sequences do, so the
// round ends on time, then continue a whole segment per round; the tokens are those of an
// unsegmented run.
TEST_F(GeneratorSegmentsTest, RequestsJoiningMidRoundParkWithTheRound) {
    const auto want = unsegmented();
    GeneratorOptions o;
    o.kv_blocks = 64, o.block_size = 4, o.max_running = 16, o.max_batch_tokens = 64;
    Generator gen(model, o);
    const int seg = 6;
    auto reqs = requests(model.config().vocab, seg);
    for (int i = 0; i < 4; ++i) gen.add(reqs[i]);
    std::vector<GeneratedSequence> all;
    int steps = 0;
    for (; steps < 2; ++steps)  // two tokens into the first round (prefill included)
        for (auto& f : gen.step()) all.push_back(std::move(f));
    for (int i = 4; i < 8; ++i) {
        reqs[i].first_segment_tokens = seg - steps;
        gen.add(reqs[i]);
    }
    while (!gen.round_done())
        for (auto& f : gen.step()) all.push_back(std::move(f)), ++steps;
    for (const auto& u : gen.unfinished()) {
        const size_t expect = u.request_id < 204 ? seg : seg - 2;  // joined late: the rest of the round
        EXPECT_EQ(u.tokens.size(), expect) << "request " << u.request_id << " sample " << u.sample_index;
    }
    EXPECT_GT(gen.num_parked(), 0);
    gen.begin_round();
    int rounds = 0;
    for (auto& f : run_in_rounds(gen, seg, &rounds)) all.push_back(std::move(f));
    auto got = by_key(std::move(all));
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [k, w] : want) {
        const GeneratedSequence& g = got.at(k);
        EXPECT_EQ(g.tokens, w.tokens) << "request " << k.first << " sample " << k.second;
        std::vector<int> starts;  // after the first segment, one every seg tokens
        const int first = k.first < 204 ? seg : seg - 2;
        for (int s = 0; s < static_cast<int>(g.tokens.size()); s = s == 0 ? first : s + seg)
            starts.push_back(s);
        EXPECT_EQ(g.segment_starts, starts) << "request " << k.first << " sample " << k.second;
    }
    GenerationRequest bad = reqs[0];
    bad.id = 999, bad.first_segment_tokens = seg + 1;
    EXPECT_THROW(gen.add(bad), Error);
}

// A pool so small that parked KV must be evicted (and running sequences preempted) to admit and grow
// others: the evicted ones re-prefill when their next round starts and still draw the same tokens.
TEST_F(GeneratorSegmentsTest, EvictedWhileParkedResumesWithTheSameTokens) {
    const auto want = unsegmented();
    GeneratorOptions o;
    o.kv_blocks = 18, o.block_size = 4, o.max_running = 6, o.max_batch_tokens = 16;
    Generator gen(model, o);
    for (const auto& r : requests(model.config().vocab, 3)) gen.add(r);
    int rounds = 0;
    auto got = by_key(run_in_rounds(gen, 3, &rounds));
    EXPECT_GT(gen.stats().evictions, 0) << "the pool should be small enough to evict parked sequences";
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [k, w] : want) {
        EXPECT_EQ(got.at(k).tokens, w.tokens) << "request " << k.first << " sample " << k.second;
        for (size_t j = 0; j < w.logprobs.size(); ++j)
            EXPECT_NEAR(got.at(k).logprobs[j], w.logprobs[j], 1e-4);
        expect_segment_starts(got.at(k), 3);
    }
    EXPECT_EQ(gen.cache().blocks_used(), 0);
    EXPECT_EQ(gen.cache().seq_count(), 0);
}

// Weights change between rounds (recompute): each token records the version that sampled it, and its
// behaviour log-prob is what that version's model gives for it (Transformer over the whole sequence).
TEST_F(GeneratorSegmentsTest, WeightChangeBetweenRoundsRecordsEachVersion) {
    const int V = model.config().vocab;
    std::vector<Model> versions;
    for (int v = 0; v < 3; ++v) {
        versions.emplace_back(model.config());
        test::randomize_model(versions.back(), 300 + v);
    }
    Model live(versions[0]);
    GenerationRequest r;
    r.id = 9;
    r.prompt = test::random_tokens(6, V, 12);
    r.max_new_tokens = 12;
    r.n = 2;
    r.segment_tokens = 4;
    r.sampling.seed = 5;
    GeneratorOptions o;
    o.kv_blocks = 32, o.block_size = 4;
    Generator gen(live, o);
    gen.set_policy_version(10);
    gen.add(r);
    std::vector<GeneratedSequence> out;
    for (int round = 0; !gen.done(); ++round) {
        ASSERT_LT(round, 3);
        if (round > 0) {
            live.data = versions[round].data;
            gen.drop_kv();
            EXPECT_EQ(gen.cache().blocks_used(), 0) << "parked KV is dropped too";
            gen.set_policy_version(10 + round);
            gen.begin_round();
        }
        while (!gen.round_done())
            for (auto& f : gen.step()) out.push_back(std::move(f));
    }
    ASSERT_EQ(out.size(), 2u);
    for (const GeneratedSequence& g : out) {
        ASSERT_EQ(g.tokens.size(), 12u);
        EXPECT_EQ(g.segment_starts, (std::vector<int>{0, 4, 8}));
        std::vector<int> full = r.prompt;
        full.insert(full.end(), g.tokens.begin(), g.tokens.end());
        PackedBatch batch;
        batch.add_sequence(full);
        for (int v = 0; v < 3; ++v) {
            TokenScores sc = Transformer(versions[v]).forward(batch);
            for (int j = 4 * v; j < 4 * v + 4; ++j) {
                EXPECT_EQ(g.versions[j], 10 + v) << "token " << j;
                EXPECT_NEAR(g.logprobs[j], sc.logprob[r.prompt.size() + j], 2e-4) << "token " << j;
            }
        }
    }
}

// Kept KV across a weight change: versions are still recorded per segment; the first segment is
// what the old weights alone draw.
TEST_F(GeneratorSegmentsTest, WeightChangeWithKeptKvRecordsVersions) {
    const int V = model.config().vocab;
    Model live(model);
    Model updated(model.config());
    test::randomize_model(updated, 77);
    GenerationRequest r;
    r.id = 3;
    r.prompt = test::random_tokens(5, V, 4);
    r.max_new_tokens = 8;
    r.sampling.seed = 1;
    GeneratorOptions o;
    o.kv_blocks = 32, o.block_size = 4;
    Generator plain(model, o);
    plain.add(r);
    const auto ref = plain.run_until_done();

    r.segment_tokens = 5;
    Generator gen(live, o);
    gen.add(r);
    while (!gen.round_done()) ASSERT_TRUE(gen.step().empty());
    const int used = gen.cache().blocks_used();
    EXPECT_GT(used, 0) << "a parked sequence keeps its KV";
    live.data = updated.data;
    gen.set_policy_version(1);
    gen.begin_round();
    auto out = gen.run_until_done();
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].tokens.size(), 8u);
    EXPECT_EQ(gen.stats().prefill_tokens, 5) << "kept KV: nothing recomputed";
    EXPECT_EQ(std::vector<int>(out[0].tokens.begin(), out[0].tokens.begin() + 5),
              std::vector<int>(ref[0].tokens.begin(), ref[0].tokens.begin() + 5));
    EXPECT_EQ(out[0].versions, (std::vector<int64_t>{0, 0, 0, 0, 0, 1, 1, 1}));
    EXPECT_EQ(out[0].segment_starts, (std::vector<int>{0, 5}));
}

// A restarted worker: unfinished sequences are snapshotted between rounds and resumed in a new
// generator, which re-prefills them and draws the tokens an uninterrupted run draws.
TEST_F(GeneratorSegmentsTest, UnfinishedSequencesResumeInAnotherGenerator) {
    const auto want = unsegmented();
    const auto reqs = requests(model.config().vocab, 4);
    GeneratorOptions o;
    o.kv_blocks = 64, o.block_size = 4, o.max_running = 16, o.max_batch_tokens = 64;
    std::vector<GeneratedSequence> done;
    std::vector<GeneratedSequence> partial;
    {
        Generator first(model, o);
        for (const auto& r : reqs) first.add(r);
        for (int round = 0; round < 2; ++round) {
            while (!first.round_done())
                for (auto& f : first.step()) done.push_back(std::move(f));
            if (round == 0) first.begin_round();
        }
        partial = first.unfinished();
        // Cancelling a request frees its blocks wherever its sequences are.
        const int before = first.cache().blocks_used();
        first.cancel(partial.front().request_id);
        EXPECT_LT(first.cache().blocks_used(), before);
    }
    ASSERT_FALSE(partial.empty());
    Generator second(model, o);
    for (const auto& r : reqs) {
        std::vector<GeneratedSequence> mine;
        for (const auto& p : partial)
            if (p.request_id == r.id) mine.push_back(p);
        if (!mine.empty()) second.add_resumed(r, mine);
    }
    EXPECT_EQ(second.num_waiting(), static_cast<int>(partial.size()));
    for (auto& f : second.run_until_done()) done.push_back(std::move(f));
    auto got = by_key(std::move(done));
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [k, w] : want) {
        EXPECT_EQ(got.at(k).tokens, w.tokens) << "request " << k.first << " sample " << k.second;
        expect_segment_starts(got.at(k), 4);
    }

    // What cannot be resumed is refused with a reason.
    GenerationRequest r = reqs[1];
    GeneratedSequence bad;
    bad.request_id = r.id;
    bad.sample_index = 5;  // n = 1
    EXPECT_THROW(second.add_resumed(r, {bad}), Error);
    bad.sample_index = 0;
    bad.tokens.assign(r.max_new_tokens, 9);
    bad.logprobs.assign(r.max_new_tokens, 0.f);
    bad.versions.assign(r.max_new_tokens, 0);
    EXPECT_THROW(second.add_resumed(r, {bad}), Error);
    bad.tokens = {9};
    EXPECT_THROW(second.add_resumed(r, {bad}), Error);  // 1 token, max_new_tokens log-probs
}

// Admission control: what the unfinished sequences may still take before their segment ends.
TEST_F(GeneratorSegmentsTest, BlocksReservedCoversTheNextSegment) {
    GeneratorOptions o;
    o.kv_blocks = 64, o.block_size = 4;
    Generator gen(model, o);
    GenerationRequest r;
    r.id = 1;
    r.prompt = test::random_tokens(6, model.config().vocab, 2);
    r.max_new_tokens = 20;
    r.segment_tokens = 4;
    gen.add(r);
    EXPECT_EQ(gen.blocks_reserved(), 3);  // 6 + 4 tokens, nothing resident yet
    r.id = 2;
    r.segment_tokens = 0;
    gen.add(r);
    EXPECT_EQ(gen.blocks_reserved(), 3 + 7);  // 6 + 20 tokens
    while (!gen.round_done() && gen.num_parked() == 0) gen.step();
    // Request 1 parked with 10 tokens in 3 blocks; its next segment needs 14 tokens: 1 more block.
    int held = 0;
    for (const auto& u : gen.unfinished()) held += u.request_id == 1 ? static_cast<int>(u.tokens.size()) : 0;
    EXPECT_EQ(held, 4);
    EXPECT_EQ(gen.blocks_reserved(), 1 + 7 - 3) << "request 2 holds 3 of its 7 blocks by now";
}

}  // namespace
}  // namespace stride
