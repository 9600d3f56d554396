// Tiny configs and random weights shared by the transformer tests (test_transformer*.cpp).
#pragma once
#include <cstdint>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "model/params.h"

namespace stride::test {

// Llama: untied head, llama3 RoPE scaling with all three frequency bands hit at D = 8, GQA 4/2,
// mlp_bias on.
inline ModelConfig tiny_llama() {
    ModelConfig c;
    c.arch = Arch::llama;
    c.hidden = 32, c.intermediate = 48, c.layers = 2, c.heads = 4, c.kv_heads = 2, c.head_dim = 8;
    c.vocab = 61, c.rms_eps = 1e-5f, c.rope_theta = 10000.0;
    c.rope_scaling.type = RopeScalingType::llama3;
    c.rope_scaling.factor = 8.0f, c.rope_scaling.low_freq_factor = 1.0f,
    c.rope_scaling.high_freq_factor = 4.0f;
    c.rope_scaling.original_max_position_embeddings = 64;  // wavelengths 6.3 | 63 | 628, 6283 vs 16..64
    c.tie_embeddings = false, c.mlp_bias = true;
    return c;
}

// Qwen2: q/k/v bias, tied embeddings.
inline ModelConfig tiny_qwen2() {
    ModelConfig c;
    c.arch = Arch::qwen2;
    c.hidden = 32, c.intermediate = 40, c.layers = 2, c.heads = 4, c.kv_heads = 2, c.head_dim = 8;
    c.vocab = 53, c.rms_eps = 1e-6f, c.rope_theta = 1000.0;
    c.tie_embeddings = true, c.qkv_bias = true;
    return c;
}

// Qwen3: q/k norm, head_dim 16 != hidden / heads, attention_bias (q, k, v and o biases).
inline ModelConfig tiny_qwen3() {
    ModelConfig c;
    c.arch = Arch::qwen3;
    c.hidden = 32, c.intermediate = 44, c.layers = 2, c.heads = 4, c.kv_heads = 2, c.head_dim = 16;
    c.vocab = 67, c.rms_eps = 1e-6f, c.rope_theta = 100.0;
    c.tie_embeddings = false, c.qkv_bias = true, c.o_bias = true, c.qk_norm = true;
    return c;
}

// Weights at a scale where activations and logits are O(1) (HF's 0.02 init would make every
// gradient tiny and an absolute tolerance meaningless): matrices N(0, 1/in), embeddings N(0, 1),
// norm weights 1 + N(0, 0.1^2), biases N(0, 0.1^2).
inline void randomize_model(Model& m, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (const ParamSpec& s : m.layout.specs()) {
        float* p = m.data.data() + s.offset;
        const bool is_norm = s.name.find("norm.weight") != std::string::npos;
        const bool is_bias = s.name.size() > 5 && s.name.compare(s.name.size() - 5, 5, ".bias") == 0;
        const bool is_embed = s.name == "model.embed_tokens.weight";
        float scale = 1.0f;
        if (is_norm || is_bias)
            scale = 0.1f;
        else if (!is_embed)
            scale = 1.0f / std::sqrt((float)s.shape.back());
        for (size_t i = 0; i < s.numel; ++i) p[i] = (is_norm ? 1.0f : 0.0f) + scale * normal(rng);
    }
}

inline std::vector<int> random_tokens(int n, int V, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> tok(0, V - 1);
    std::vector<int> s(n);
    for (int& t : s) t = tok(rng);
    return s;
}

}  // namespace stride::test
