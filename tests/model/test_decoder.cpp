// Decoder (incremental forward over the paged KV cache) == full recomputation with
// Transformer::forward, for ragged batches whose sequences span several blocks, prompts prefilled in
// several chunks then decoded, forked sequences sharing prompt blocks, and a weight swap followed by
// recomputation. Also the paged attention kernel against attention_forward directly.
#include <gtest/gtest.h>
#include <algorithm>

#include <cmath>
#include <random>
#include <vector>

#include "common/base/error.h"
#include "model/decoder.h"
#include "model/ops/attention.h"
#include "model/ops/math.h"
#include "model/ops/paged_attention.h"
#include "model/transformer.h"
#include "tests/model/transformer_test_util.h"

namespace stride {
namespace {

// Log-probs of every token of each sequence under full recomputation (0 at position 0).
std::vector<std::vector<float>> reference_logprobs(const Model& model,
                                                   const std::vector<std::vector<int>>& seqs,
                                                   float temperature = 1.0f) {
    PackedBatch batch;
    for (const auto& s : seqs) batch.add_sequence(s);
    Transformer tf(model);
    ForwardOptions opt;
    opt.temperature = temperature;
    TokenScores sc = tf.forward(batch, opt);
    std::vector<std::vector<float>> out;
    for (size_t s = 0; s < seqs.size(); ++s)
        out.emplace_back(sc.logprob.begin() + batch.cu_seqlens[s],
                         sc.logprob.begin() + batch.cu_seqlens[s + 1]);
    return out;
}

float log_softmax_at(const float* logits, int V, int y) {
    float mx = logits[0];
    for (int i = 1; i < V; ++i) mx = std::max(mx, logits[i]);
    double sum = 0;
    for (int i = 0; i < V; ++i) sum += std::exp(logits[i] - mx);
    return logits[y] - mx - static_cast<float>(std::log(sum));
}

int argmax(const float* logits, int V) {
    int best = 0;
    for (int i = 1; i < V; ++i)
        if (logits[i] > logits[best]) best = i;
    return best;
}

constexpr float kTol = 2e-4f;  // fp32, different summation orders (GEMM shapes, online softmax)

class DecoderVsTransformer : public ::testing::TestWithParam<int> {
   protected:
    ModelConfig config() const {
        switch (GetParam()) {
            case 0:
                return test::tiny_qwen3();
            case 1:
                return test::tiny_qwen2();
            default:
                return test::tiny_llama();
        }
    }
};

// Three sequences of lengths 1, 7 and 33 with block_size 4: prefill in chunks that end mid-block
// (several sequences per batch, different chunk sizes), then 6 greedy decode steps for all of them.
TEST_P(DecoderVsTransformer, ChunkedPrefillThenDecode) {
    Model model(config());
    test::randomize_model(model, 11 + GetParam());
    const int V = model.config().vocab;
    KvCache cache(model.config(), 64, 4);
    Decoder dec(model, cache);

    std::vector<std::vector<int>> seqs = {test::random_tokens(1, V, 1), test::random_tokens(7, V, 2),
                                          test::random_tokens(33, V, 3)};
    int ids[3];
    for (int& id : ids) id = cache.seq_create();

    // Chunk plan: per round, how many prompt tokens each sequence feeds (0 = not in this batch).
    const int plan[3][3] = {{1, 3, 10}, {0, 4, 10}, {0, 0, 13}};
    std::vector<int> fed(3, 0);
    std::vector<std::vector<float>> chunk_lp(3);  // log-prob of token p+1 given 0..p, from the decoder
    for (int s = 0; s < 3; ++s) chunk_lp[s].assign(seqs[s].size(), 0.0f);
    std::vector<std::vector<float>> decode_lp(3);  // greedy continuation, from the decoder's logits
    std::vector<int> next(3);
    DecodeBatch batch;
    for (const auto& round : plan) {
        batch.clear();
        std::vector<int> targets;
        for (int s = 0; s < 3; ++s) {
            if (round[s] == 0) continue;
            batch.add(ids[s], seqs[s].data() + fed[s], round[s]);
            for (int j = 0; j < round[s]; ++j) {
                size_t next_pos = fed[s] + j + 1;
                targets.push_back(next_pos < seqs[s].size() ? seqs[s][next_pos] : -1);
            }
        }
        std::vector<float> lp(targets.size());
        const float* logits = dec.extend_with_logprobs(batch, targets.data(), 1.0f, lp.data());
        int t = 0, row = 0;
        for (int s = 0; s < 3; ++s) {
            if (round[s] == 0) continue;
            for (int j = 0; j < round[s]; ++j, ++t)
                if (fed[s] + j + 1 < static_cast<int>(seqs[s].size())) chunk_lp[s][fed[s] + j + 1] = lp[t];
            fed[s] += round[s];
            if (fed[s] == static_cast<int>(seqs[s].size())) {  // prompt done: its logits give the first token
                next[s] = argmax(logits + static_cast<size_t>(row) * V, V);
                decode_lp[s].push_back(log_softmax_at(logits + static_cast<size_t>(row) * V, V, next[s]));
            }
            ++row;
        }
    }
    for (int s = 0; s < 3; ++s) ASSERT_EQ(cache.seq_length(ids[s]), static_cast<int>(seqs[s].size()));

    for (int step = 0; step < 6; ++step) {
        batch.clear();
        for (int s = 0; s < 3; ++s) {
            seqs[s].push_back(next[s]);
            batch.add(ids[s], &next[s], 1);
        }
        const float* logits = dec.extend(batch);
        for (int s = 0; s < 3; ++s) {
            next[s] = argmax(logits + static_cast<size_t>(s) * V, V);
            decode_lp[s].push_back(log_softmax_at(logits + static_cast<size_t>(s) * V, V, next[s]));
        }
    }
    for (int s = 0; s < 3; ++s) seqs[s].push_back(next[s]);

    auto ref = reference_logprobs(model, seqs);
    for (int s = 0; s < 3; ++s) {
        const int n = static_cast<int>(seqs[s].size()), prompt = n - 7;
        for (int p = 1; p < prompt; ++p)
            EXPECT_NEAR(chunk_lp[s][p], ref[s][p], kTol) << "seq " << s << " pos " << p;
        for (int j = 0; j < 7; ++j)
            EXPECT_NEAR(decode_lp[s][j], ref[s][prompt + j], kTol) << "seq " << s << " decode step " << j;
    }
    for (int id : ids) cache.seq_free(id);
    EXPECT_EQ(cache.blocks_used(), 0);
}

INSTANTIATE_TEST_SUITE_P(Archs, DecoderVsTransformer, ::testing::Values(0, 1, 2), [](const auto& info) {
    return std::string(info.param == 0 ? "qwen3" : info.param == 1 ? "qwen2" : "llama");
});

// A prompt ending mid-block is prefilled once and forked into 3 samples that decode different tokens
// (copy-on-write of the shared partial block) while the parent also continues.
TEST(Decoder, ForkedSequencesDecodeCorrectly) {
    Model model(test::tiny_qwen3());
    test::randomize_model(model, 5);
    const int V = model.config().vocab;
    KvCache cache(model.config(), 32, 4);
    Decoder dec(model, cache);

    std::vector<int> prompt = test::random_tokens(6, V, 9);
    int parent = cache.seq_create();
    DecodeBatch batch;
    batch.add(parent, prompt);
    dec.extend(batch);
    const int prompt_blocks = cache.blocks_used();
    EXPECT_EQ(prompt_blocks, 2);

    std::vector<int> ids = {parent};
    for (int k = 0; k < 3; ++k) ids.push_back(cache.seq_fork(parent));
    EXPECT_EQ(cache.blocks_used(), prompt_blocks);  // shared, nothing copied yet

    std::vector<std::vector<int>> seqs(4, prompt);
    std::vector<std::vector<std::vector<float>>> logits_rows(4);  // [sample][step][V]
    std::mt19937_64 rng(3);
    for (int step = 0; step < 5; ++step) {
        batch.clear();
        std::vector<int> toks(4);
        for (int s = 0; s < 4; ++s) {
            toks[s] = static_cast<int>(rng() % V);  // different continuations per sample
            seqs[s].push_back(toks[s]);
        }
        for (int s = 0; s < 4; ++s) batch.add(ids[s], &toks[s], 1);
        const float* logits = dec.extend(batch);
        if (step == 0) {
            // The full block stays shared; the first three writers copy the partial one, the last
            // holder then owns the original alone.
            EXPECT_EQ(cache.blocks_used(), prompt_blocks + 3);
        }
        for (int s = 0; s < 4; ++s)
            logits_rows[s].emplace_back(logits + static_cast<size_t>(s) * V,
                                        logits + static_cast<size_t>(s + 1) * V);
    }
    for (auto& s : seqs) s.push_back(0);
    auto ref = reference_logprobs(model, seqs);
    for (int s = 0; s < 4; ++s)
        for (int j = 0; j < 5; ++j) {
            const size_t pos = prompt.size() + 1 + j;  // logits after feeding position pos - 1
            EXPECT_NEAR(log_softmax_at(logits_rows[s][j].data(), V, seqs[s][pos]), ref[s][pos], kTol)
                << "sample " << s << " step " << j;
        }
    for (int id : ids) cache.seq_free(id);
    EXPECT_EQ(cache.blocks_used(), 0);
}

// RL weight update: new weights written into the model between calls; truncating the cache and
// re-prefilling prompt + generated tokens gives the new model's numbers.
TEST(Decoder, WeightSwapThenRecompute) {
    Model model(test::tiny_qwen2());
    test::randomize_model(model, 1);
    Model updated(model.config());
    test::randomize_model(updated, 2);
    const int V = model.config().vocab;
    KvCache cache(model.config(), 16, 4);
    Decoder dec(model, cache);
    std::vector<int> seq = test::random_tokens(9, V, 4);
    int id = cache.seq_create();
    DecodeBatch batch;
    batch.add(id, seq.data(), 8);
    dec.extend(batch);

    const_cast<Model&>(dec.model()).data = updated.data;  // in-place update: views stay valid
    cache.seq_truncate(id, 0);
    batch.clear();
    batch.add(id, seq.data(), 8);
    const float* logits = dec.extend(batch);
    float lp = log_softmax_at(logits, V, seq[8]);
    EXPECT_NEAR(lp, reference_logprobs(updated, {seq})[0][8], kTol);
}

TEST(Decoder, BatchThatDoesNotFitThrowsWithoutTouchingTheCache) {
    Model model(test::tiny_qwen2());
    test::randomize_model(model, 1);
    KvCache cache(model.config(), 2, 4);
    Decoder dec(model, cache);
    int a = cache.seq_create(), b = cache.seq_create();
    DecodeBatch batch;
    batch.add(a, test::random_tokens(5, model.config().vocab, 1));
    batch.add(b, test::random_tokens(1, model.config().vocab, 2));
    EXPECT_THROW(dec.extend(batch), Error);  // needs 3 blocks, 2 exist
    EXPECT_EQ(cache.seq_length(a), 0);
    EXPECT_EQ(cache.blocks_used(), 0);
    batch.clear();
    batch.add(a, std::vector<int>{model.config().vocab});
    EXPECT_THROW(dec.extend(batch), Error);                  // token outside the vocabulary
    EXPECT_THROW(batch.add(a, std::vector<int>{1}), Error);  // same sequence twice in one batch
}

// The kernel alone: paged attention of all tokens of a few sequences (cache filled in a scrambled
// block order) equals attention_forward on the same packed q, k, v.
// bf16: the cache holds K/V rounded to bf16 and the reference attends over the same rounded values.
void expect_paged_matches_dense(int nq, int nkv, int D, int B, const std::vector<int>& lens,
                                bool bf16 = false) {
    std::vector<int> cu = {0};
    for (int l : lens) cu.push_back(cu.back() + l);
    const int T = cu.back();
    std::mt19937_64 rng(1);
    std::normal_distribution<float> normal;
    std::vector<float> q(T * nq * D), k(T * nkv * D), v(T * nkv * D);
    for (float& x : q) x = normal(rng);
    for (float& x : k) x = normal(rng);
    for (float& x : v) x = normal(rng);
    if (bf16) {
        for (float& x : k) x = float_from_bf16(bf16_from_float(x));
        for (float& x : v) x = float_from_bf16(bf16_from_float(x));
    }

    // Blocks handed out in reverse order, per sequence.
    int max_blocks = 0, n_blocks = 0;
    for (int l : lens) max_blocks = std::max(max_blocks, (l + B - 1) / B), n_blocks += (l + B - 1) / B;
    n_blocks += 2;                                                     // spare blocks stay NaN
    const size_t block_stride = static_cast<size_t>(B) * nkv * D * 2;  // K tile then V tile
    std::vector<float> pool(n_blocks * block_stride, NAN);             // unused slots poison the result
    std::vector<int> tables(lens.size() * max_blocks, -1), token_seq(T), token_pos(T);
    int next_block = n_blocks - 1;
    for (size_t s = 0; s < lens.size(); ++s) {
        for (int i = 0; i * B < lens[s]; ++i) tables[s * max_blocks + i] = next_block--;
        for (int p = 0; p < lens[s]; ++p) {
            const int t = cu[s] + p, blk = tables[s * max_blocks + p / B];
            float* kd = pool.data() + blk * block_stride + (p % B) * nkv * D;
            float* vd = kd + B * nkv * D;
            std::copy(k.begin() + t * nkv * D, k.begin() + (t + 1) * nkv * D, kd);
            std::copy(v.begin() + t * nkv * D, v.begin() + (t + 1) * nkv * D, vd);
            token_seq[t] = static_cast<int>(s);
            token_pos[t] = p;
        }
    }
    std::vector<float> out(T * nq * D), ref(T * nq * D), lse(T * nq);
    if (bf16) {
        std::vector<uint16_t> pool16(pool.size(), 0x7fc0);  // NaN in unused slots, as above
        for (size_t i = 0; i < pool.size(); ++i)
            if (!std::isnan(pool[i])) pool16[i] = bf16_from_float(pool[i]);
        paged_attention_forward_bf16(out.data(), q.data(), pool16.data(), pool16.data() + B * nkv * D,
                                     block_stride, tables.data(), max_blocks, token_seq.data(),
                                     token_pos.data(), T, nq, nkv, D, B);
    } else {
        paged_attention_forward(out.data(), q.data(), pool.data(), pool.data() + B * nkv * D, block_stride,
                                tables.data(), max_blocks, token_seq.data(), token_pos.data(), T, nq, nkv, D,
                                B);
    }
    attention_forward(ref.data(), lse.data(), q.data(), k.data(), v.data(), cu.data(),
                      static_cast<int>(lens.size()), nq, nkv, D);
    for (int i = 0; i < T * nq * D; ++i) ASSERT_NEAR(out[i], ref[i], 1e-5) << "element " << i;
}

TEST(PagedAttention, MatchesDenseAttention) {
    expect_paged_matches_dense(6, 2, 8, 3, {1, 5, 13});
}

TEST(PagedAttention, Bf16CacheMatchesDenseAttentionOverTheRoundedValues) {
    expect_paged_matches_dense(6, 2, 8, 3, {1, 5, 13}, true);
    expect_paged_matches_dense(4, 4, 32, 16, {1, 17, 40, 100}, true);
}

// The whole decoder over a bf16 cache: half the pool, and log-probs within bf16 rounding of the fp32
// cache's (not equal: the cache really holds bf16).
TEST(Decoder, Bf16CacheHalvesThePoolAndStaysCloseToFp32) {
    Model model(test::tiny_qwen2());
    test::randomize_model(model, 5);
    const int V = model.config().vocab;
    const std::vector<int> seq = test::random_tokens(40, V, 9);
    std::vector<int> targets(seq.begin() + 1, seq.end());
    targets.push_back(-1);
    std::vector<float> lp[2];
    size_t bytes[2];
    for (int bf16 = 0; bf16 < 2; ++bf16) {
        KvCache cache(model.config(), 16, 4, bf16 ? KvDtype::bf16 : KvDtype::fp32);
        bytes[bf16] = cache.pool_bytes();
        Decoder dec(model, cache);
        DecodeBatch batch;
        batch.add(cache.seq_create(), seq.data(), 20);  // prefill in two chunks: the second reads the first
        lp[bf16].resize(40);
        dec.extend_with_logprobs(batch, targets.data(), 1.0f, lp[bf16].data());
        batch.clear();
        batch.add(0, seq.data() + 20, 20);
        dec.extend_with_logprobs(batch, targets.data() + 20, 1.0f, lp[bf16].data() + 20);
    }
    EXPECT_EQ(bytes[1] * 2, bytes[0]);
    EXPECT_EQ(KvCache::blocks_for_bytes(model.config(), bytes[0], 4, KvDtype::bf16), 32);
    double max_diff = 0;
    for (int t = 0; t < 39; ++t) max_diff = std::max(max_diff, (double)std::fabs(lp[0][t] - lp[1][t]));
    EXPECT_GT(max_diff, 0.0);
    EXPECT_LT(max_diff, 0.05);
}

// Head dims that fill whole vector blocks (and one that does not), contexts across several cache
// blocks, one block as long as the kernel allows.
TEST(PagedAttention, MatchesDenseAttentionAtModelShapes) {
    expect_paged_matches_dense(4, 4, 32, 16, {1, 17, 40, 100});
    expect_paged_matches_dense(8, 2, 64, 16, {33, 70});
    expect_paged_matches_dense(2, 1, 36, 5, {12, 29});
    expect_paged_matches_dense(2, 1, 32, kPagedAttentionMaxBlock, {300});
}

}  // namespace
}  // namespace stride
