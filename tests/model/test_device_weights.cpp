// bf16 weight storage (rollout.dtype = bf16) and the ways weights reach a backend's allocation
// (model/device_weights.h): the layout (matrices in bf16, vectors in fp32, one allocation), uploads
// through a bounded staging buffer, safetensors loaded straight into the allocation (F32 and BF16 on
// disk), a colocated trainer's fp32 version adopted with a cast, and the decoder computing with bf16
// weights. Runs on the CPU and the CPU-staged backend (host_memory = false), so every copy path of a
// GPU is taken here; the CUDA kernels themselves are test_backend_ops' job on the GPU machine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/checkpoint.h"
#include "model/decoder.h"
#include "model/device_weight_slot.h"
#include "model/device_weights.h"
#include "model/generator.h"
#include "model/kv_budget.h"
#include "model/ops/math.h"
#include "tests/model/staged_backend.h"
#include "tests/model/transformer_test_util.h"

using namespace stride;

namespace {

const Backend& staged() {
    return test::staged_backend();
}

Model random_model(uint64_t seed, ModelConfig cfg = test::tiny_qwen2()) {
    Model m(cfg);
    test::randomize_model(m, seed);
    return m;
}

// Every parameter as DeviceWeights holds it, read back to the host as fp32 (bf16 values widened), in
// the Model's layout.
std::vector<float> read_back(const DeviceWeights& w) {
    const Model& m = w.model();
    const Backend& be = w.backend();
    std::vector<float> out(m.data.size());
    const std::vector<ParamSpec>& specs = m.layout.specs();
    const ModelWeights& hv = m.w;
    const ModelWeights& dv = w.views();
    const ModelMatricesBf16& b = w.bf16();
    // Host-view pointer -> the device pointer and whether it is bf16, field by field.
    std::vector<std::pair<const float*, std::pair<const void*, bool>>> pairs;
    auto f = [&](const float* h, const float* d) {
        if (h) pairs.push_back({h, {d, false}});
    };
    auto hb = [&](const float* h, const uint16_t* d, const float* d32) {
        if (!h) return;
        if (d)
            pairs.push_back({h, {d, true}});
        else
            pairs.push_back({h, {d32, false}});
    };
    hb(hv.embed, b.embed, dv.embed);
    if (hv.lm_head != hv.embed) hb(hv.lm_head, b.lm_head, dv.lm_head);
    f(hv.final_norm, dv.final_norm);
    for (size_t l = 0; l < hv.layers.size(); ++l) {
        const LayerWeights &h = hv.layers[l], &d = dv.layers[l];
        const LayerMatricesBf16 none{};
        const LayerMatricesBf16& m16 = b.layers.empty() ? none : b.layers[l];
        f(h.attn_norm, d.attn_norm), f(h.mlp_norm, d.mlp_norm), f(h.q_norm, d.q_norm), f(h.k_norm, d.k_norm);
        f(h.bq, d.bq), f(h.bk, d.bk), f(h.bv, d.bv), f(h.bo, d.bo), f(h.b_gate, d.b_gate), f(h.b_up, d.b_up);
        f(h.b_down, d.b_down);
        hb(h.wq, m16.wq, d.wq), hb(h.wk, m16.wk, d.wk), hb(h.wv, m16.wv, d.wv), hb(h.wo, m16.wo, d.wo);
        hb(h.w_gate, m16.w_gate, d.w_gate), hb(h.w_up, m16.w_up, d.w_up), hb(h.w_down, m16.w_down, d.w_down);
    }
    size_t covered = 0;
    for (const auto& [host, dev] : pairs) {
        const size_t off = static_cast<size_t>(host - m.data.data());
        const auto it =
            std::find_if(specs.begin(), specs.end(), [&](const ParamSpec& s) { return s.offset == off; });
        EXPECT_NE(it, specs.end());
        if (it == specs.end()) continue;
        covered += it->numel;
        if (dev.second) {
            std::vector<uint16_t> h16(it->numel);
            be.copy(h16.data(), dev.first, it->numel * 2);
            be.sync();
            for (size_t k = 0; k < it->numel; ++k) out[off + k] = float_from_bf16(h16[k]);
        } else {
            be.copy(out.data() + off, dev.first, it->numel * 4);
            be.sync();
        }
    }
    EXPECT_EQ(covered, m.data.size()) << "every parameter has a view";
    return out;
}

// model.data with the matrices rounded to bf16: what a bf16 DeviceWeights must hold.
std::vector<float> rounded(const Model& m) {
    std::vector<float> out = m.data;
    for (const ParamSpec& s : m.layout.specs())
        if (s.shape.size() >= 2)
            for (size_t k = 0; k < s.numel; ++k)
                out[s.offset + k] = float_from_bf16(bf16_from_float(m.data[s.offset + k]));
    return out;
}

class TempDir {
   public:
    TempDir() : path_("/tmp/stride_devw_" + std::to_string(::getpid()) + "_" + test_name()) {
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    const std::string& path() const { return path_; }

   private:
    static std::string test_name() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }
    std::string path_;
};

}  // namespace

TEST(DeviceWeights, ParsesTheDtypeAndRefusesOthers) {
    EXPECT_EQ(parse_weight_dtype("bf16"), WeightDtype::bf16);
    EXPECT_EQ(parse_weight_dtype("fp32"), WeightDtype::fp32);
    try {
        parse_weight_dtype("fp16");
        FAIL() << "fp16 accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'fp16'"), std::string::npos) << e.what();
    }
}

// One allocation: the matrices in bf16 (rounded to nearest even), the norms and biases exact in fp32.
TEST(DeviceWeights, Bf16HoldsMatricesRoundedAndVectorsExact) {
    for (const ModelConfig& cfg : {test::tiny_qwen2(), test::tiny_qwen3(), test::tiny_llama()}) {
        const Model m = random_model(1, cfg);
        for (const Backend* be : {&cpu_backend(), &staged()}) {
            DeviceWeights w(m, *be, WeightDtype::bf16);
            EXPECT_EQ(w.bytes(), device_weight_bytes(m.layout, WeightDtype::bf16));
            EXPECT_LT(w.bytes(), m.data.size() * sizeof(float) * 6 / 10) << "about half of fp32";
            EXPECT_EQ(w.device_data(), nullptr) << "no fp32 allocation to step in bf16 mode";
            EXPECT_TRUE(w.has_own_copy());
            EXPECT_EQ(read_back(w), rounded(m)) << be->name;
        }
    }
}

// A staging buffer far smaller than the model: many buffer-fulls, same bytes as one big buffer.
TEST(DeviceWeights, UploadThroughASmallStagingBufferIsExact) {
    Model m = random_model(2);
    DeviceWeights small(m, staged(), WeightDtype::bf16, 4096), big(m, staged(), WeightDtype::bf16);
    EXPECT_GT(small.staging_flushes(), m.data.size() * 2 / 4096 / 2) << "the buffer was reused";
    EXPECT_EQ(big.staging_flushes(), 0u);
    EXPECT_EQ(read_back(small), rounded(m));
    // A new version: same allocation, new values.
    const void* before = small.bf16().embed;
    const Model other = random_model(3);
    m.data = other.data;
    small.upload();
    EXPECT_EQ(small.bf16().embed, before) << "no re-allocation for a new version";
    EXPECT_EQ(read_back(small), rounded(other));
}

// Safetensors straight into the allocation, F32 and BF16 on disk, fp32 and bf16 in memory; the
// Model's host buffer is never written.
TEST(DeviceWeights, LoadsACheckpointStraightIntoTheAllocation) {
    TempDir tmp;
    const Model src = random_model(4, test::tiny_qwen3());
    for (DiskDtype disk : {DiskDtype::f32, DiskDtype::bf16}) {
        const std::string dir = tmp.path() + (disk == DiskDtype::f32 ? "/f32" : "/bf16");
        checkpoint_save(src, dir, disk);
        const Model on_disk = checkpoint_load(dir);  // what the file holds, as fp32
        const Model empty(src.config());             // zeros: the device copy starts from them
        for (WeightDtype dt : {WeightDtype::fp32, WeightDtype::bf16}) {
            DeviceWeights w(empty, staged(), dt, 8192);
            w.load_checkpoint(dir);
            EXPECT_EQ(read_back(w), dt == WeightDtype::bf16 ? rounded(on_disk) : on_disk.data)
                << "disk " << (disk == DiskDtype::f32 ? "F32" : "BF16") << ", memory "
                << weight_dtype_name(dt);
            EXPECT_TRUE(std::all_of(empty.data.begin(), empty.data.end(), [](float x) { return x == 0.0f; }))
                << "the host model was written";
        }
    }
    // A checkpoint of another shape is refused with the key that differs.
    const Model other = random_model(5, test::tiny_llama());
    checkpoint_save(other, tmp.path() + "/llama", DiskDtype::f32);
    const Model empty(src.config());
    DeviceWeights w(empty, staged(), WeightDtype::bf16);
    EXPECT_THROW(w.load_checkpoint(tmp.path() + "/llama"), Error);
    // fp32 on the CPU has no allocation of its own to load into.
    DeviceWeights host(empty, cpu_backend(), WeightDtype::fp32);
    EXPECT_THROW(host.load_checkpoint(tmp.path() + "/f32"), Error);
}

// A colocated trainer's fp32 device weights through the slot: cast into bf16 on the device.
TEST(DeviceWeights, SlotVersionIsCastIntoBf16Weights) {
    const Model rollout_model = random_model(6);
    const Model trainer_model = random_model(7);
    DeviceWeights trainer(trainer_model, staged(), WeightDtype::fp32);
    DeviceWeights rollout(rollout_model, staged(), WeightDtype::bf16);
    DeviceWeightSlot slot(staged(), trainer_model.data.size());
    EXPECT_EQ(slot.take_if_newer(-1, rollout), -1);
    slot.put(3, trainer.device_data());
    EXPECT_EQ(slot.take_if_newer(3, rollout), -1) << "3 is not newer than 3";
    EXPECT_EQ(slot.take_if_newer(2, rollout), 3);
    EXPECT_EQ(read_back(rollout), rounded(trainer_model));
    const Model wrong(test::tiny_llama());
    DeviceWeights other(wrong, staged(), WeightDtype::bf16);
    if (wrong.data.size() != trainer_model.data.size()) EXPECT_THROW(slot.take_if_newer(0, other), Error);
}

// The decoder with bf16 weights: the staged backend equals the CPU bit for bit (same kernels, only
// copies added), the logits stay within bf16 rounding of the fp32 decoder's but are not equal to them
// (the weights really are bf16), and scoring, which needs fp32, is refused.
TEST(DeviceWeights, DecoderComputesWithBf16Weights) {
    const Model m = random_model(8, test::tiny_qwen3());
    const int V = m.config().vocab;
    auto logits = [&](const Backend& be, WeightDtype dt) {
        KvCache cache(m.config(), 32, 4, KvDtype::fp32, be);
        Decoder dec(m, cache, dt);
        DecodeBatch b;
        b.add(cache.seq_create(), test::random_tokens(7, V, 1));
        b.add(cache.seq_create(), test::random_tokens(2, V, 2));
        const float* l = dec.extend(b);
        return std::vector<float>(l, l + 2 * V);
    };
    const std::vector<float> cpu16 = logits(cpu_backend(), WeightDtype::bf16);
    EXPECT_EQ(logits(staged(), WeightDtype::bf16), cpu16);
    const std::vector<float> f32 = logits(cpu_backend(), WeightDtype::fp32);
    float max_diff = 0.0f, max_abs = 0.0f;
    for (size_t i = 0; i < f32.size(); ++i) {
        max_diff = std::max(max_diff, std::fabs(f32[i] - cpu16[i]));
        max_abs = std::max(max_abs, std::fabs(f32[i]));
    }
    EXPECT_GT(max_diff, 0.0f) << "bf16 weights gave exactly the fp32 logits: were they used?";
    // bf16 keeps 8 significant bits (relative error 2^-9 per value); through a few layers of O(1)
    // activations the logits move by a few percent of their scale at most.
    EXPECT_LT(max_diff, 0.05f * max_abs) << "max |logit| " << max_abs;

    KvCache cache(m.config(), 32, 4, KvDtype::fp32, staged());
    Decoder dec(m, cache, WeightDtype::bf16);
    DecodeBatch b;
    b.add(cache.seq_create(), test::random_tokens(4, V, 3));
    std::vector<int> targets(4, 1);
    std::vector<float> lp(4);
    EXPECT_THROW(dec.extend_with_logprobs(b, targets.data(), 1.0f, lp.data()), Error);
}

// A generator with bf16 weights runs a greedy request to the end on the staged backend as on the CPU.
TEST(DeviceWeights, GeneratorWithBf16WeightsMatchesTheCpu) {
    const Model m = random_model(9);
    auto run = [&](const Backend& be) {
        GeneratorOptions opt;
        opt.kv_blocks = 64, opt.block_size = 4, opt.max_running = 4, opt.max_batch_tokens = 64;
        opt.backend = &be;
        opt.weight_dtype = WeightDtype::bf16;
        Generator gen(m, opt);
        GenerationRequest r;
        r.id = 1, r.prompt = test::random_tokens(6, m.config().vocab, 4), r.max_new_tokens = 10;
        r.sampling.temperature = 0.0f;
        gen.add(r);
        return gen.run_until_done().at(0).tokens;
    };
    const std::vector<int> cpu = run(cpu_backend());
    EXPECT_EQ(cpu.size(), 10u);
    EXPECT_EQ(run(staged()), cpu);
}
