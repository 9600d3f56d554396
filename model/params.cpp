#include "model/params.h"

#include <unistd.h>

#include <random>

#include "common/base/error.h"

namespace stride {

namespace {

// The order here is the order of the flat buffer and of the tensors in a checkpoint we write.
struct LayoutBuilder {
    std::vector<ParamSpec>& specs;
    size_t& numel;
    void add(const std::string& name, std::vector<int64_t> shape) {
        size_t n = 1;
        for (int64_t d : shape) n *= static_cast<size_t>(d);
        specs.push_back({name, std::move(shape), numel, n});
        numel += n;
    }
};

}  // namespace

ParamLayout::ParamLayout(const ModelConfig& cfg) : cfg_(cfg) {
    cfg.validate();
    const int64_t H = cfg.hidden, I = cfg.intermediate, V = cfg.vocab, D = cfg.head_dim;
    const int64_t Hq = cfg.q_dim(), Hkv = cfg.kv_dim();
    LayoutBuilder b{specs_, numel_};
    b.add("model.embed_tokens.weight", {V, H});
    for (int l = 0; l < cfg.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        b.add(p + "input_layernorm.weight", {H});
        b.add(p + "self_attn.q_proj.weight", {Hq, H});
        if (cfg.qkv_bias) b.add(p + "self_attn.q_proj.bias", {Hq});
        b.add(p + "self_attn.k_proj.weight", {Hkv, H});
        if (cfg.qkv_bias) b.add(p + "self_attn.k_proj.bias", {Hkv});
        b.add(p + "self_attn.v_proj.weight", {Hkv, H});
        if (cfg.qkv_bias) b.add(p + "self_attn.v_proj.bias", {Hkv});
        b.add(p + "self_attn.o_proj.weight", {H, Hq});
        if (cfg.o_bias) b.add(p + "self_attn.o_proj.bias", {H});
        if (cfg.qk_norm) {
            b.add(p + "self_attn.q_norm.weight", {D});
            b.add(p + "self_attn.k_norm.weight", {D});
        }
        b.add(p + "post_attention_layernorm.weight", {H});
        b.add(p + "mlp.gate_proj.weight", {I, H});
        if (cfg.mlp_bias) b.add(p + "mlp.gate_proj.bias", {I});
        b.add(p + "mlp.up_proj.weight", {I, H});
        if (cfg.mlp_bias) b.add(p + "mlp.up_proj.bias", {I});
        b.add(p + "mlp.down_proj.weight", {H, I});
        if (cfg.mlp_bias) b.add(p + "mlp.down_proj.bias", {H});
    }
    b.add("model.norm.weight", {H});
    if (!cfg.tie_embeddings) b.add("lm_head.weight", {V, H});
}

int ParamLayout::find(const std::string& name) const {
    for (size_t i = 0; i < specs_.size(); ++i)
        if (specs_[i].name == name) return static_cast<int>(i);
    return -1;
}

ModelWeights ParamLayout::views(float* base) const {
    auto at = [&](const std::string& name) -> float* {
        int i = find(name);
        return i < 0 ? nullptr : base + specs_[i].offset;
    };
    ModelWeights w{};
    w.embed = at("model.embed_tokens.weight");
    w.layers.resize(cfg_.layers);
    for (int l = 0; l < cfg_.layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        LayerWeights& L = w.layers[l];
        L.attn_norm = at(p + "input_layernorm.weight");
        L.wq = at(p + "self_attn.q_proj.weight");
        L.bq = at(p + "self_attn.q_proj.bias");
        L.wk = at(p + "self_attn.k_proj.weight");
        L.bk = at(p + "self_attn.k_proj.bias");
        L.wv = at(p + "self_attn.v_proj.weight");
        L.bv = at(p + "self_attn.v_proj.bias");
        L.wo = at(p + "self_attn.o_proj.weight");
        L.bo = at(p + "self_attn.o_proj.bias");
        L.q_norm = at(p + "self_attn.q_norm.weight");
        L.k_norm = at(p + "self_attn.k_norm.weight");
        L.mlp_norm = at(p + "post_attention_layernorm.weight");
        L.w_gate = at(p + "mlp.gate_proj.weight");
        L.b_gate = at(p + "mlp.gate_proj.bias");
        L.w_up = at(p + "mlp.up_proj.weight");
        L.b_up = at(p + "mlp.up_proj.bias");
        L.w_down = at(p + "mlp.down_proj.weight");
        L.b_down = at(p + "mlp.down_proj.bias");
    }
    w.final_norm = at("model.norm.weight");
    w.lm_head = cfg_.tie_embeddings ? w.embed : at("lm_head.weight");
    return w;
}

static bool is_norm_weight(const std::string& name) {
    return name.find("norm.weight") != std::string::npos;
}

size_t checked_param_count(const ParamLayout& layout) {
    const size_t n = layout.numel();
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) {
        const double bytes = static_cast<double>(n) * sizeof(float);
        const double have = static_cast<double>(pages) * static_cast<double>(page);
        const ModelConfig& c = layout.config();
        STRIDE_CHECK(bytes <= have,
                     "model: " + std::to_string(n) + " parameters need " + std::to_string(bytes / (1 << 30)) +
                         " GiB as float32, more than the " + std::to_string(have / (1 << 30)) +
                         " GiB of memory of this machine (hidden_size " + std::to_string(c.hidden) +
                         ", intermediate_size " + std::to_string(c.intermediate) + ", num_hidden_layers " +
                         std::to_string(c.layers) + ", vocab_size " + std::to_string(c.vocab) + ")");
    }
    return n;
}

void model_init_random(Model& m, uint64_t seed, float std) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, std);
    for (const ParamSpec& s : m.layout.specs()) {
        float* p = m.data.data() + s.offset;
        const bool bias = s.name.size() >= 5 && s.name.compare(s.name.size() - 5, 5, ".bias") == 0;
        if (is_norm_weight(s.name)) {
            for (size_t i = 0; i < s.numel; ++i) p[i] = 1.0f;
        } else if (bias) {
            for (size_t i = 0; i < s.numel; ++i) p[i] = 0.0f;
        } else {
            for (size_t i = 0; i < s.numel; ++i) p[i] = normal(rng);
        }
    }
}

}  // namespace stride
