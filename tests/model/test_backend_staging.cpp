// The engine's device code paths without a GPU: a backend that computes with the CPU kernels but
// says its memory is not the host's (host_memory = false), so Transformer, Decoder, KvCache and
// Generator upload the weights (DeviceWeights), stage their integer tables, copy logits and scores
// back and sample through device buffers exactly as they do on CUDA. Results must be bit-identical to
// the CPU backend's. What this cannot check (the CUDA kernels themselves) is test_backend_ops' and
// test_gpu_model's job on the GPU machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/backend.h"
#include "model/decoder.h"
#include "model/generator.h"
#include "model/transformer.h"
#include "tests/model/transformer_test_util.h"

using namespace stride;

namespace {

const Backend& staged() {
    static const Backend b = [] {
        Backend x = cpu_backend();
        x.name = "cpu-staged";
        x.host_memory = false;
        return x;
    }();
    return b;
}

ModelConfig arch_config(int i) {
    return i == 0 ? test::tiny_qwen3() : i == 1 ? test::tiny_qwen2() : test::tiny_llama();
}

class Staging : public ::testing::TestWithParam<int> {
   protected:
    Model make_model(uint64_t seed) const {
        Model m(arch_config(GetParam()));
        test::randomize_model(m, seed + GetParam());
        return m;
    }
};

TEST_P(Staging, TransformerScoresIdentical) {
    const Model model = make_model(10);
    PackedBatch batch;
    for (int len : {1, 6, 19}) batch.add_sequence(test::random_tokens(len, model.config().vocab, 20 + len));
    ForwardOptions opt;
    opt.logprob_chunk = 5;
    Transformer cpu_t(model), staged_t(model, staged());
    const TokenScores a = cpu_t.forward(batch, opt), b = staged_t.forward(batch, opt);
    EXPECT_EQ(a.logprob, b.logprob);
    EXPECT_EQ(a.entropy, b.entropy);
    // Backward needs host memory and every backward entry; a device backend says so instead.
    std::vector<float> grads(model.layout.numel(), 0.0f);
    try {
        staged_t.backward(std::vector<float>(batch.num_tokens(), 1.0f), {}, grads.data());
        FAIL() << "backward on a device backend should throw";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cpu-staged backend"), std::string::npos) << e.what();
    }
}

// Three prompts, chunked over block_size 4, then greedy steps; every step's logits compared.
std::vector<float> decode_logits(const Model& model, const Backend& be, KvDtype dtype) {
    const int V = model.config().vocab;
    KvCache cache(model.config(), 64, 4, dtype, be);
    Decoder dec(model, cache);
    std::vector<int> ids;
    DecodeBatch batch;
    for (int len : {3, 9, 14}) {
        ids.push_back(cache.seq_create());
        batch.add(ids.back(), test::random_tokens(len, V, 30 + len));
    }
    std::vector<float> all;
    for (int step = 0; step < 8; ++step) {
        const float* logits = dec.extend(batch);
        all.insert(all.end(), logits, logits + ids.size() * V);
        batch.clear();
        for (size_t s = 0; s < ids.size(); ++s) {
            const float* row = logits + s * V;
            const int tok = (int)(std::max_element(row, row + V) - row);
            batch.add(ids[s], &tok, 1);
        }
    }
    return all;
}

TEST_P(Staging, DecoderLogitsIdenticalFp32AndBf16Cache) {
    const Model model = make_model(40);
    EXPECT_EQ(decode_logits(model, staged(), KvDtype::fp32),
              decode_logits(model, cpu_backend(), KvDtype::fp32));
    EXPECT_EQ(decode_logits(model, staged(), KvDtype::bf16),
              decode_logits(model, cpu_backend(), KvDtype::bf16));
}

TEST_P(Staging, ScoringLogprobsIdentical) {
    const Model model = make_model(50);
    auto score = [&](const Backend& be) {
        KvCache cache(model.config(), 64, 4, KvDtype::fp32, be);
        Decoder dec(model, cache);
        const auto toks = test::random_tokens(23, model.config().vocab, 9);
        std::vector<int> targets(toks.begin() + 1, toks.end());
        targets.push_back(-1);
        DecodeBatch b;
        b.add(cache.seq_create(), toks);
        std::vector<float> lp(toks.size());
        const float* logits = dec.extend_with_logprobs(b, targets.data(), 0.8f, lp.data());
        lp.insert(lp.end(), logits, logits + model.config().vocab);
        return lp;
    };
    EXPECT_EQ(score(staged()), score(cpu_backend()));
}

// A new policy version: the CPU decoder reads model.data live; a device decoder reads its copy until
// weights_changed().
TEST_P(Staging, WeightsReachTheDeviceOnlyThroughWeightsChanged) {
    Model model = make_model(60);
    const int V = model.config().vocab;
    KvCache cache(model.config(), 16, 4, KvDtype::fp32, staged());
    Decoder dec(model, cache);
    auto logits_of = [&](Decoder& d, KvCache& c) {
        DecodeBatch b;
        const int seq = c.seq_create();
        b.add(seq, test::random_tokens(5, V, 3));
        const float* l = d.extend(b);
        std::vector<float> out(l, l + V);
        c.seq_free(seq);
        return out;
    };
    const std::vector<float> before = logits_of(dec, cache);
    const Model other = make_model(61);
    model.data = other.data;  // same layout, new values (views stay valid: same size)
    EXPECT_EQ(logits_of(dec, cache), before) << "the device copy changed without weights_changed()";
    dec.weights_changed();
    KvCache cpu_cache(model.config(), 16, 4);
    Decoder cpu_dec(model, cpu_cache);
    EXPECT_EQ(logits_of(dec, cache), logits_of(cpu_dec, cpu_cache));
}

// The Generator: greedy and sampled requests, GRPO groups sharing a prompt row in Backend::sample.
std::vector<GeneratedSequence> generate(const Model& model, const Backend& be) {
    GeneratorOptions o;
    o.kv_blocks = 96, o.block_size = 4, o.max_running = 6, o.max_batch_tokens = 20, o.backend = &be;
    Generator g(model, o);
    for (int r = 0; r < 4; ++r) {
        GenerationRequest req;
        req.id = r;
        req.prompt = test::random_tokens(4 + 7 * r, model.config().vocab, 70 + r);
        req.max_new_tokens = 9;
        req.n = 3;
        req.sampling.temperature = r == 0 ? 0.0f : 1.0f;
        req.sampling.top_p = r == 2 ? 0.8f : 1.0f;
        req.sampling.top_k = r == 3 ? 5 : 0;
        req.sampling.seed = 5;
        g.add(req);
    }
    auto out = g.run_until_done();
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::pair(a.request_id, a.sample_index) < std::pair(b.request_id, b.sample_index);
    });
    return out;
}

TEST_P(Staging, GeneratorIdentical) {
    const Model model = make_model(80);
    const auto a = generate(model, cpu_backend()), b = generate(model, staged());
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].tokens, b[i].tokens) << "sequence " << i;
        EXPECT_EQ(a[i].logprobs, b[i].logprobs) << "sequence " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(Archs, Staging, ::testing::Values(0, 1, 2), [](const auto& info) {
    return std::string(info.param == 0 ? "qwen3" : info.param == 1 ? "qwen2" : "llama");
});

}  // namespace
