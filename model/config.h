// ModelConfig: the architecture of a Llama / Qwen2 / Qwen3 dense decoder, read from and written to a
// Hugging Face config.json. Every field the forward pass depends on is resolved here once, so the
// engine never looks at model_type again (e.g. Qwen2's hard-coded q/k/v bias becomes qkv_bias).
#pragma once
#include <string>
#include <vector>

namespace stride {

enum class Arch { llama, qwen2, qwen3 };

const char* arch_name(Arch a);                 // "llama", "qwen2", "qwen3"
Arch arch_from_name(const std::string& name);  // throws Error naming the value

enum class RopeScalingType { none, linear, llama3 };

struct RopeScaling {
    RopeScalingType type = RopeScalingType::none;
    float factor = 1.0f;
    float low_freq_factor = 1.0f;                 // llama3
    float high_freq_factor = 4.0f;                // llama3
    int original_max_position_embeddings = 8192;  // llama3
};

// 2^40 parameters (4 TiB as float32): a bound no config we can run comes near, far below the sizes
// at which std::vector or size_t arithmetic fail.
inline constexpr double kMaxTensorElements = 1099511627776.0;

struct ModelConfig {
    Arch arch = Arch::qwen2;
    int hidden = 0;        // H
    int intermediate = 0;  // I
    int layers = 0;        // L
    int heads = 0;         // query heads
    int kv_heads = 0;      // key/value heads (GQA: heads % kv_heads == 0)
    int head_dim = 0;      // D (explicit for Qwen3; hidden/heads otherwise)
    int vocab = 0;         // V (softmax always runs over all V rows)
    float rms_eps = 1e-6f;
    double rope_theta = 10000.0;
    RopeScaling rope_scaling;
    int max_position = 32768;
    bool tie_embeddings = false;
    bool qkv_bias = false;  // bias on q/k/v projections
    bool o_bias = false;    // bias on o_proj
    bool mlp_bias = false;  // bias on gate/up/down (Llama mlp_bias)
    bool qk_norm = false;   // Qwen3 per-head RMSNorm on q and k before RoPE
    int bos_token_id = -1;
    std::vector<int> eos_token_ids;
    std::string torch_dtype = "float32";  // on-disk dtype hint: float32 | bfloat16 | float16

    int q_dim() const { return heads * head_dim; }      // Hq
    int kv_dim() const { return kv_heads * head_dim; }  // Hkv

    // Checks internal consistency and that the parameters can be allocated (at most
    // kMaxTensorElements in all); throws Error naming the field.
    void validate() const;
};

// Parses a config.json text. `source` names the file in error messages.
ModelConfig model_config_from_json(const std::string& json_text, const std::string& source);
// Reads DIR/config.json (or a path to a .json file).
ModelConfig model_config_load(const std::string& path);
// Serialises in the transformers v4 form that Qwen's/Meta's own config.json files use.
std::string model_config_to_json(const ModelConfig& cfg);
void model_config_save(const ModelConfig& cfg, const std::string& dir);

}  // namespace stride
