// Transformer behaviour that needs no external reference: packing equals scoring alone, recompute
// equals keeping everything, arena growth, per-sequence alignment of outputs, and input errors.
// (Correctness against PyTorch is in test_transformer_vs_torch.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/base/error.h"
#include "model/transformer.h"
#include "tests/model/transformer_test_util.h"

using namespace stride;

namespace {

std::vector<float> randn(size_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, (double)std::fabs(a[i] - b[i]));
    return m;
}

TEST(Transformer, PackedBatchEqualsEachSequenceAlone) {
    for (const ModelConfig& cfg : {test::tiny_qwen3(), test::tiny_llama()}) {
        Model m(cfg);
        test::randomize_model(m, 5);
        const std::vector<std::vector<int>> seqs = {test::random_tokens(9, cfg.vocab, 1),
                                                    test::random_tokens(1, cfg.vocab, 2),
                                                    test::random_tokens(70, cfg.vocab, 3)};
        PackedBatch packed;
        for (const auto& s : seqs) packed.add_sequence(s);
        const int T = packed.num_tokens();
        const std::vector<float> a = randn(T, 10), b = randn(T, 11);
        ForwardOptions opt;
        opt.temperature = 0.9f, opt.logprob_chunk = 16;

        Transformer tf(m);
        const TokenScores all = tf.forward(packed, opt);
        std::vector<float> g_packed(m.layout.numel(), 0.0f), g_sum(m.layout.numel(), 0.0f);
        tf.backward(a, b, g_packed.data());

        for (int s = 0; s < packed.num_seqs(); ++s) {
            const int t0 = packed.cu_seqlens[s], n = (int)seqs[s].size();
            PackedBatch one;
            one.add_sequence(seqs[s]);
            const TokenScores alone = tf.forward(one, opt);
            EXPECT_EQ(alone.logprob[0], 0.0f);  // nothing predicts a sequence's first token
            EXPECT_EQ(alone.entropy[0], 0.0f);
            for (int i = 0; i < n; ++i) {
                EXPECT_NEAR(all.logprob[t0 + i], alone.logprob[i], 1e-5) << "seq " << s << " token " << i;
                EXPECT_NEAR(all.entropy[t0 + i], alone.entropy[i], 1e-5) << "seq " << s << " token " << i;
            }
            tf.backward(std::vector<float>(a.begin() + t0, a.begin() + t0 + n),
                        std::vector<float>(b.begin() + t0, b.begin() + t0 + n), g_sum.data());
        }
        double scale = 0;
        for (float g : g_packed) scale = std::max(scale, (double)std::fabs(g));
        EXPECT_LT(max_abs_diff(g_packed, g_sum), 1e-5 * scale) << arch_name(cfg.arch);
    }
}

TEST(Transformer, RecomputeGivesTheSameScoresAndGradientsWithLessMemory) {
    ModelConfig cfg = test::tiny_qwen2();
    cfg.layers = 4;
    Model m(cfg);
    test::randomize_model(m, 6);
    PackedBatch batch;
    batch.add_sequence(test::random_tokens(40, cfg.vocab, 4));
    batch.add_sequence(test::random_tokens(25, cfg.vocab, 5));
    const int T = batch.num_tokens();
    const std::vector<float> a = randn(T, 12), b = randn(T, 13);

    ForwardOptions keep, recompute;
    recompute.recompute = true;
    Transformer tf_keep(m), tf_re(m);
    const TokenScores s1 = tf_keep.forward(batch, keep);
    const TokenScores s2 = tf_re.forward(batch, recompute);
    std::vector<float> g1(m.layout.numel(), 0.0f), g2(m.layout.numel(), 0.0f);
    tf_keep.backward(a, b, g1.data());
    tf_re.backward(a, b, g2.data());
    EXPECT_EQ(s1.logprob, s2.logprob);
    EXPECT_EQ(s1.entropy, s2.entropy);
    EXPECT_LT(max_abs_diff(g1, g2), 1e-6);
    EXPECT_LT(tf_re.activation_bytes(), tf_keep.activation_bytes() * 2 / 3);
}

TEST(Transformer, ArenaGrowsForLargerBatchesOnly) {
    Model m(test::tiny_qwen3());
    test::randomize_model(m, 7);
    Transformer tf(m);
    EXPECT_EQ(tf.activation_bytes(), 0u);
    PackedBatch small, large;
    small.add_sequence(test::random_tokens(10, m.config().vocab, 1));
    large.add_sequence(test::random_tokens(50, m.config().vocab, 2));
    tf.forward(small);
    const size_t b_small = tf.activation_bytes();
    tf.forward(large);
    const size_t b_large = tf.activation_bytes();
    EXPECT_GT(b_large, b_small);
    const TokenScores again = tf.forward(small);  // reuses the larger arena
    EXPECT_EQ(tf.activation_bytes(), b_large);
    Transformer fresh(m);
    EXPECT_EQ(fresh.forward(small).logprob, again.logprob);
}

TEST(Transformer, LogprobChunkBoundsLogitsMemory) {
    Model m(test::tiny_qwen3());
    test::randomize_model(m, 9);
    PackedBatch batch;
    batch.add_sequence(test::random_tokens(50, m.config().vocab, 4));
    ForwardOptions small, whole;
    small.logprob_chunk = 4, whole.logprob_chunk = 50;
    Transformer a(m), b(m);
    const TokenScores sa = a.forward(batch, small), sb = b.forward(batch, whole);
    // Only [chunk, V] logits exist at once: the arenas differ by (50 - 4) rows of V floats (plus at most
    // 64 bytes of view alignment).
    const size_t diff = b.activation_bytes() - a.activation_bytes();
    const size_t rows = (size_t)(50 - 4) * m.config().vocab * sizeof(float);
    EXPECT_GE(diff, rows);
    EXPECT_LE(diff, rows + 64);
    for (int t = 0; t < 50; ++t) EXPECT_NEAR(sa.logprob[t], sb.logprob[t], 1e-6);
}

TEST(Transformer, GradientsAccumulateIntoTheBuffer) {
    Model m(test::tiny_llama());
    test::randomize_model(m, 8);
    PackedBatch batch;
    batch.add_sequence(test::random_tokens(12, m.config().vocab, 3));
    const std::vector<float> a = randn(12, 14);
    Transformer tf(m);
    tf.forward(batch);
    std::vector<float> once(m.layout.numel(), 0.0f), twice(m.layout.numel(), 0.0f);
    tf.backward(a, {}, once.data());
    tf.backward(a, {}, twice.data());
    tf.backward(a, {}, twice.data());
    for (size_t i = 0; i < once.size(); i += 97)
        EXPECT_NEAR(twice[i], 2 * once[i], 1e-5 + 1e-5 * std::fabs(once[i]));
}

// sum_{t,h} c[t,h] * final_hidden[t,h] in double: what a value head on the trunk differentiates.
double hidden_projection(Transformer& tf, const PackedBatch& batch, const std::vector<float>& c,
                         const ForwardOptions& opt) {
    tf.forward(batch, opt);
    const float* f = tf.final_hidden();
    double s = 0;
    for (size_t i = 0; i < c.size(); ++i) s += (double)c[i] * f[i];
    return s;
}

TEST(Transformer, FinalHiddenGradientMatchesFiniteDifferences) {
    for (const ModelConfig& cfg : {test::tiny_qwen2(), test::tiny_qwen3()}) {
        Model m(cfg);
        test::randomize_model(m, 21);
        PackedBatch batch;
        batch.add_sequence(test::random_tokens(7, cfg.vocab, 5));
        batch.add_sequence(test::random_tokens(5, cfg.vocab, 6));
        const std::vector<float> c = randn((size_t)batch.num_tokens() * cfg.hidden, 22);
        ForwardOptions trunk_only;
        trunk_only.lm_head = false;  // the critic's forward: the gradient must not need the LM head
        Transformer tf(m);
        hidden_projection(tf, batch, c, trunk_only);
        std::vector<float> grads(m.layout.numel(), 0.0f);
        tf.backward({}, {}, grads.data(), c.data());
        // Probe entries of every tensor kind the hidden rows depend on (the LM head is not one of
        // them unless tied to the embedding, and gets exactly zero when untied).
        int probed = 0;
        for (const ParamSpec& spec : m.layout.specs()) {
            if (spec.name == "lm_head.weight") {
                for (size_t i = 0; i < spec.numel; ++i) ASSERT_EQ(grads[spec.offset + i], 0.0f);
                continue;
            }
            for (size_t k = 0; k < 2; ++k) {
                const size_t i = spec.offset + (k * 7919) % spec.numel;
                const float saved = m.data[i], eps = 1e-2f;
                m.data[i] = saved + eps;
                const double up = hidden_projection(tf, batch, c, trunk_only);
                m.data[i] = saved - eps;
                const double down = hidden_projection(tf, batch, c, trunk_only);
                m.data[i] = saved;
                const double numeric = (up - down) / (2 * eps);
                EXPECT_NEAR(grads[i], numeric, 2e-2 + 2e-2 * std::fabs(numeric))
                    << spec.name << "[" << i << "]";
                ++probed;
            }
        }
        EXPECT_GT(probed, 20);
    }
}

TEST(Transformer, HiddenGradientAddsToTheLogprobGradientAndSkippingTheHeadKeepsTheRows) {
    Model m(test::tiny_llama());
    test::randomize_model(m, 23);
    PackedBatch batch;
    batch.add_sequence(test::random_tokens(9, m.config().vocab, 7));
    const int T = batch.num_tokens(), H = m.config().hidden;
    const std::vector<float> a = randn(T, 24), b = randn(T, 25), c = randn((size_t)T * H, 26);
    Transformer tf(m);
    tf.forward(batch);
    const std::vector<float> rows(tf.final_hidden(), tf.final_hidden() + (size_t)T * H);
    std::vector<float> joint(m.layout.numel(), 0.0f), split(m.layout.numel(), 0.0f);
    tf.backward(a, b, joint.data(), c.data());
    tf.backward(a, b, split.data());
    ForwardOptions trunk_only;
    trunk_only.lm_head = false;
    const TokenScores none = tf.forward(batch, trunk_only);
    EXPECT_TRUE(none.logprob.empty() && none.entropy.empty());
    EXPECT_EQ(std::vector<float>(tf.final_hidden(), tf.final_hidden() + (size_t)T * H), rows);
    tf.backward({}, {}, split.data(), c.data());
    EXPECT_LT(max_abs_diff(joint, split), 1e-5);
    EXPECT_THROW(tf.backward(a, {}, split.data()), Error);  // no LM head ran: no log-prob gradient
}

TEST(Transformer, BadInputIsAClearError) {
    Model m(test::tiny_qwen2());
    Transformer tf(m);
    EXPECT_THROW(tf.backward({}, {}, nullptr), Error);  // before any forward
    PackedBatch bad;
    bad.add_sequence({1, 2, m.config().vocab});
    EXPECT_THROW(tf.forward(bad), Error);
    PackedBatch ok;
    ok.add_sequence({1, 2, 3});
    ForwardOptions opt;
    opt.temperature = 0.0f;
    EXPECT_THROW(tf.forward(ok, opt), Error);
    tf.forward(ok);
    std::vector<float> g(m.layout.numel());
    EXPECT_THROW(tf.backward({1.0f, 1.0f}, {}, g.data()), Error);
    const TokenScores none = tf.forward(PackedBatch{});  // empty batch: empty scores, no-op backward
    EXPECT_TRUE(none.logprob.empty());
    tf.backward({}, {}, g.data());
    PackedBatch inconsistent = ok;
    inconsistent.cu_seqlens = {0, 2};
    EXPECT_THROW(tf.forward(inconsistent), Error);
}

}  // namespace
