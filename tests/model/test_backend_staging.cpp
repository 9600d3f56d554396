// The engine's device code paths without a GPU: a backend that computes with the CPU kernels but
// says its memory is not the host's (host_memory = false), so Transformer, Decoder, KvCache and
// Generator upload the weights (DeviceWeights), stage their integer tables, copy logits and scores
// back, sample and train (gradients, AdamW state and master weights in device buffers) through device
// buffers exactly as they do on CUDA. Results must be bit-identical to
// the CPU backend's. What this cannot check (the CUDA kernels themselves) is test_backend_ops' and
// test_gpu_model's job on the GPU machine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/backend.h"
#include "model/decoder.h"
#include "model/device_weight_slot.h"
#include "model/generator.h"
#include "model/trainable_model.h"
#include "model/transformer.h"
#include "tests/model/staged_backend.h"
#include "tests/model/transformer_test_util.h"

using namespace stride;

namespace {

const Backend& staged() {
    return test::staged_backend();
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
}

// A full training step through TrainableModel: forward, backward of a log-prob, entropy and
// final-hidden gradient (the value head's path) over two micro-batches accumulated into one
// gradient buffer, clipping that scales, and two AdamW steps. On the staged backend the gradients,
// moments and weights live in device buffers and the master weights are stepped there; every
// number must equal the CPU step's bit for bit (same kernels, blocked norm in the same order).
TEST_P(Staging, TrainingStepIdentical) {
    Model cpu_model = make_model(70), staged_model = make_model(70);
    const int V = cpu_model.config().vocab, H = cpu_model.config().hidden;
    AdamWConfig ac;
    ac.lr = 1e-2f, ac.weight_decay = 0.1f;
    TrainableModel cpu_tm(cpu_model, ac), staged_tm(staged_model, ac, staged());
    ForwardOptions opt;
    opt.logprob_chunk = 4;
    opt.recompute = GetParam() == 1;  // recomputation's device path on one architecture
    for (int step = 0; step < 2; ++step) {
        cpu_tm.zero_grads(), staged_tm.zero_grads();
        for (int micro = 0; micro < 2; ++micro) {
            PackedBatch batch;
            for (int len : {3, 8 + micro}) batch.add_sequence(test::random_tokens(len, V, 80 + len + step));
            const int T = batch.num_tokens();
            const TokenScores a = cpu_tm.engine().forward(batch, opt);
            const TokenScores b = staged_tm.engine().forward(batch, opt);
            ASSERT_EQ(a.logprob, b.logprob) << "step " << step << " micro " << micro;
            ASSERT_EQ(a.entropy, b.entropy);
            std::vector<float> g_lp(T), g_ent(T), g_hidden((size_t)T * H);
            for (int t = 0; t < T; ++t) g_lp[t] = 0.1f * (t % 3) - 0.05f, g_ent[t] = 0.01f * t;
            for (size_t i = 0; i < g_hidden.size(); ++i) g_hidden[i] = 1e-3f * (float)(i % 7);
            cpu_tm.engine().backward(g_lp, g_ent, cpu_tm.grads(), g_hidden.data());
            staged_tm.engine().backward(g_lp, g_ent, staged_tm.grads(), g_hidden.data());
        }
        const std::vector<float> cpu_grads = cpu_tm.grads_to_host();
        ASSERT_EQ(staged_tm.grads_to_host(), cpu_grads) << "every gradient, step " << step;
        ASSERT_GT(*std::max_element(cpu_grads.begin(), cpu_grads.end()), 0.0f);
        const float max_norm = 0.5f * (float)std::sqrt(cpu_tm.grad_norm_sq());  // clipping scales
        EXPECT_EQ(staged_tm.clip_grads(max_norm), cpu_tm.clip_grads(max_norm));
        cpu_tm.step(1e-2f), staged_tm.step(1e-2f);
        // The device's master weights moved; the host copy waits for weights_to_host().
        EXPECT_NE(staged_model.data, cpu_model.data) << "model.data changed before weights_to_host()";
        staged_tm.weights_to_host();
        ASSERT_EQ(staged_model.data, cpu_model.data) << "weights after step " << step;
        EXPECT_EQ(staged_tm.optimizer().m(), cpu_tm.optimizer().m());
        EXPECT_EQ(staged_tm.optimizer().v(), cpu_tm.optimizer().v());
        EXPECT_EQ(staged_tm.optimizer().step_count(), step + 1);
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

// A backend without every backward entry cannot train: TrainableModel refuses it at construction and
// Transformer::backward at the call, both naming the backend.
TEST(StagingRefusals, TrainingNeedsEveryBackwardEntry) {
    Backend partial = staged();
    partial.name = "cpu-partial";
    partial.attention_backward = nullptr;
    EXPECT_TRUE(Transformer::can_train(staged()));
    EXPECT_FALSE(Transformer::can_train(partial));
    Model model(test::tiny_qwen2());
    test::randomize_model(model, 1);
    auto message = [](auto&& f) {
        try {
            f();
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message([&] { TrainableModel tm(model, {}, partial); }).find("cpu-partial backend"),
              std::string::npos);
    Transformer t(model, partial);
    PackedBatch batch;
    batch.add_sequence(test::random_tokens(5, model.config().vocab, 2));
    t.forward(batch);
    DeviceBuffer grads(partial, model.data.size() * sizeof(float));
    EXPECT_NE(message([&] {
                  t.backward(std::vector<float>(5, 1.0f), {}, grads.as<float>());
              }).find("backward: not available on the cpu-partial backend"),
              std::string::npos);
}

// Colocated roles: a trainer's stepped device weights reach a decoder's device weights through a
// DeviceWeightSlot, device to device; the decoder's host model.data is never written, yet it computes
// exactly what a decoder built from the trained weights computes.
TEST_P(Staging, ColocatedWeightsGoDeviceToDevice) {
    Model trainer_model = make_model(90), rollout_model = make_model(90);
    const int V = trainer_model.config().vocab;
    AdamWConfig ac;
    ac.lr = 1e-2f;
    TrainableModel tm(trainer_model, ac, staged());
    PackedBatch batch;
    batch.add_sequence(test::random_tokens(9, V, 91));
    tm.engine().forward(batch);
    tm.engine().backward(std::vector<float>(batch.num_tokens(), 1.0f), {}, tm.grads());
    tm.step(ac.lr);

    DeviceWeightSlot slot(staged(), trainer_model.data.size());
    KvCache cache(rollout_model.config(), 16, 4, KvDtype::fp32, staged());
    Decoder dec(rollout_model, cache);
    const std::vector<float> rollout_host = rollout_model.data;
    EXPECT_EQ(slot.take_if_newer(-1, dec.device_weights()), -1) << "an empty slot has no version";
    slot.put(1, tm.engine().device_weights());
    EXPECT_EQ(slot.take_if_newer(1, dec.device_weights()), -1) << "version 1 is not newer than 1";
    EXPECT_EQ(slot.take_if_newer(0, dec.device_weights()), 1);
    EXPECT_EQ(rollout_model.data, rollout_host) << "the hand-over went through the host";

    tm.weights_to_host();
    ASSERT_NE(trainer_model.data, rollout_host) << "the step moved no weight";
    KvCache cpu_cache(trainer_model.config(), 16, 4);
    Decoder cpu_dec(trainer_model, cpu_cache);
    const std::vector<int> prompt = test::random_tokens(6, V, 92);
    auto logits = [&](Decoder& d, KvCache& c) {
        DecodeBatch b;
        b.add(c.seq_create(), prompt);
        const float* l = d.extend(b);
        return std::vector<float>(l, l + V);
    };
    EXPECT_EQ(logits(dec, cache), logits(cpu_dec, cpu_cache));
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
