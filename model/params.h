// Parameters of a decoder in one flat float buffer (llm.c style). The same layout serves weights,
// gradients and the two AdamW moments, so the optimizer is one loop over one array and a checkpoint
// is a walk over `specs()` with Hugging Face tensor names.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace stride {

struct ParamSpec {
    std::string name;            // HF name, e.g. "model.layers.3.self_attn.q_proj.weight"
    std::vector<int64_t> shape;  // HF shape, nn.Linear is [out, in]
    size_t offset = 0;           // in floats, into the flat buffer
    size_t numel = 0;
};

// Views into one flat buffer. Pointers are null where the architecture has no such tensor.
struct LayerWeights {
    float* attn_norm;  // [H]            input_layernorm
    float* wq;         // [Hq, H]
    float* bq;         // [Hq]           qkv_bias
    float* wk;         // [Hkv, H]
    float* bk;         // [Hkv]
    float* wv;         // [Hkv, H]
    float* bv;         // [Hkv]
    float* wo;         // [H, Hq]
    float* bo;         // [H]            o_bias
    float* q_norm;     // [D]            qk_norm
    float* k_norm;     // [D]            qk_norm
    float* mlp_norm;   // [H]            post_attention_layernorm
    float* w_gate;     // [I, H]
    float* b_gate;     // [I]            mlp_bias
    float* w_up;       // [I, H]
    float* b_up;       // [I]
    float* w_down;     // [H, I]
    float* b_down;     // [H]
};

struct ModelWeights {
    float* embed;  // [V, H]
    std::vector<LayerWeights> layers;
    float* final_norm;  // [H]
    float* lm_head;     // [V, H]; == embed when tied (its gradient then accumulates into embed's)
};

class ParamLayout {
   public:
    explicit ParamLayout(const ModelConfig& cfg);

    const ModelConfig& config() const { return cfg_; }
    const std::vector<ParamSpec>& specs() const { return specs_; }
    size_t numel() const { return numel_; }
    // Index into specs() by HF name, or -1.
    int find(const std::string& name) const;

    // Points every field at `base` (a buffer of numel() floats) using this layout.
    ModelWeights views(float* base) const;

   private:
    ModelConfig cfg_;
    std::vector<ParamSpec> specs_;
    size_t numel_ = 0;
};

// layout.numel(), after checking that its float32 buffer fits in this machine's physical memory:
// a model that cannot be held is an Error naming its size, not a bad_alloc or an OOM kill.
size_t checked_param_count(const ParamLayout& layout);

// Weights of a model: config + layout + one buffer.
struct Model {
    explicit Model(const ModelConfig& cfg) : layout(cfg), data(checked_param_count(layout), 0.0f) {
        w = layout.views(data.data());
    }
    Model(const Model& o) : layout(o.layout), data(o.data) { w = layout.views(data.data()); }
    Model& operator=(const Model&) = delete;
    const ModelConfig& config() const { return layout.config(); }

    ParamLayout layout;
    std::vector<float> data;
    ModelWeights w;
};

// Seeded random init as HF does it: normal(0, initializer_range=0.02) for matrices and embeddings,
// ones for norm weights, zeros for biases. Same seed -> same bytes.
void model_init_random(Model& m, uint64_t seed, float std = 0.02f);

}  // namespace stride
