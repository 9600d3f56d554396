// config.json parsing: real Qwen/Llama configs, the v5 rope_parameters form, and an error that names
// the file and the key for every kind of bad input.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/base/error.h"
#include "model/config.h"
#include "model/params.h"

using namespace stride;
using nlohmann::json;

namespace {

// Qwen3-0.6B's config.json as published (trimmed of fields we ignore).
json qwen3_06b() {
    return json::parse(R"({
      "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
      "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
      "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
      "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
      "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
      "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": true,
      "torch_dtype": "bfloat16", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

ModelConfig parse(const json& j) {
    return model_config_from_json(j.dump(), "cfg.json");
}

// Expects parsing to fail with a message that names the source file and contains every fragment.
void expect_config_error(const json& j, const std::vector<std::string>& fragments) {
    try {
        parse(j);
        FAIL() << "expected an error for " << j.dump();
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind("cfg.json: ", 0), 0u) << msg;
        for (const std::string& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << msg;
    }
}

}  // namespace

TEST(Config, ParsesQwen3) {
    const ModelConfig c = parse(qwen3_06b());
    EXPECT_EQ(c.arch, Arch::qwen3);
    EXPECT_EQ(c.hidden, 1024);
    EXPECT_EQ(c.head_dim, 128);  // explicit, != hidden / heads
    EXPECT_EQ(c.q_dim(), 2048);
    EXPECT_EQ(c.kv_dim(), 1024);
    EXPECT_TRUE(c.qk_norm);
    EXPECT_FALSE(c.qkv_bias);
    EXPECT_TRUE(c.tie_embeddings);
    EXPECT_EQ(c.rope_theta, 1e6);
    EXPECT_EQ(c.rope_scaling.type, RopeScalingType::none);
    EXPECT_EQ(c.eos_token_ids, std::vector<int>{151645});
    EXPECT_EQ(c.bos_token_id, 151643);
    EXPECT_FLOAT_EQ(c.rms_eps, 1e-6f);
    EXPECT_EQ(c.torch_dtype, "bfloat16");
}

TEST(Config, Qwen2BiasIsHardCodedAndHeadDimDerived) {
    json j = qwen3_06b();
    j["model_type"] = "qwen2";
    j.erase("head_dim");
    j["attention_bias"] = false;  // ignored by Qwen2
    const ModelConfig c = parse(j);
    EXPECT_TRUE(c.qkv_bias);
    EXPECT_FALSE(c.o_bias);
    EXPECT_FALSE(c.qk_norm);
    EXPECT_EQ(c.head_dim, 64);
}

TEST(Config, LlamaWithLlama3RopeAndEosList) {
    json j = qwen3_06b();
    j["model_type"] = "llama";
    j.erase("head_dim");
    j["attention_bias"] = true;
    j["mlp_bias"] = true;
    j["eos_token_id"] = {128001, 128008, 128009};
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 32.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 8192}};
    const ModelConfig c = parse(j);
    EXPECT_TRUE(c.qkv_bias && c.o_bias && c.mlp_bias);
    EXPECT_EQ(c.eos_token_ids, (std::vector<int>{128001, 128008, 128009}));
    EXPECT_EQ(c.rope_scaling.type, RopeScalingType::llama3);
    EXPECT_EQ(c.rope_scaling.factor, 32.0f);
    EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
    j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};  // legacy key name
    EXPECT_EQ(parse(j).rope_scaling.type, RopeScalingType::linear);
}

TEST(Config, TransformersV5RopeParameters) {
    json j = qwen3_06b();
    j.erase("rope_theta");
    j.erase("rope_scaling");
    j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 5e5}};
    j["dtype"] = "float16";
    j.erase("torch_dtype");
    const ModelConfig c = parse(j);
    EXPECT_EQ(c.rope_theta, 5e5);
    EXPECT_EQ(c.rope_scaling.type, RopeScalingType::none);
    EXPECT_EQ(c.torch_dtype, "float16");
}

TEST(Config, WriteThenReadIsTheSameConfig) {
    json j = qwen3_06b();
    j["model_type"] = "llama";
    j["rope_scaling"] = {{"rope_type", "llama3"},
                         {"factor", 8.0},
                         {"low_freq_factor", 1.0},
                         {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 8192}};
    j["rms_norm_eps"] = 1e-5;
    const ModelConfig a = parse(j);
    const std::string text = model_config_to_json(a);
    const ModelConfig b = model_config_from_json(text, "again.json");
    EXPECT_EQ(model_config_to_json(b), text);
    EXPECT_EQ(b.head_dim, a.head_dim);
    EXPECT_EQ(b.rms_eps, a.rms_eps);
    EXPECT_EQ(b.rope_scaling.factor, a.rope_scaling.factor);
    const json w = json::parse(text);
    // Floats are written as the short decimal HF configs hold, not as the widened double.
    EXPECT_NE(text.find("\"rms_norm_eps\": 1e-05"), std::string::npos) << text;
    EXPECT_EQ(w["architectures"][0], "LlamaForCausalLM");
    EXPECT_EQ(w["rope_scaling"]["rope_type"], "llama3");
    EXPECT_EQ(w["tie_word_embeddings"], true);
}

TEST(Config, LoadFromDirectoryAndFile) {
    const std::string dir = "/tmp/stride_cfg_" + std::to_string(::getpid());
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/config.json") << qwen3_06b().dump();
    EXPECT_EQ(model_config_load(dir).hidden, 1024);
    EXPECT_EQ(model_config_load(dir + "/config.json").layers, 28);
    ModelConfig c = model_config_load(dir);
    c.layers = 3;
    model_config_save(c, dir);
    EXPECT_EQ(model_config_load(dir).layers, 3);
    std::filesystem::remove_all(dir);
    try {
        model_config_load(dir);
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(dir + "/config.json: cannot open"), std::string::npos)
            << e.what();
    }
}

// ---- errors name the key ---------------------------------------------------------------------------

TEST(Config, MissingRequiredFields) {
    for (const char* key : {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "vocab_size"}) {
        json j = qwen3_06b();
        j.erase(key);
        expect_config_error(j, {key, "missing required field"});
    }
}

TEST(Config, WrongTypes) {
    json j = qwen3_06b();
    j["hidden_size"] = "1024";
    expect_config_error(j, {"hidden_size", "expected an integer", "\"1024\""});
    j = qwen3_06b();
    j["num_hidden_layers"] = 2.5;
    expect_config_error(j, {"num_hidden_layers", "expected an integer"});
    j = qwen3_06b();
    j["tie_word_embeddings"] = "yes";
    expect_config_error(j, {"tie_word_embeddings", "expected true or false"});
    j = qwen3_06b();
    j["rms_norm_eps"] = "small";
    expect_config_error(j, {"rms_norm_eps", "expected a number"});
    j = qwen3_06b();
    j["model_type"] = 3;
    expect_config_error(j, {"model_type", "expected a string"});
    j = qwen3_06b();
    j["eos_token_id"] = "</s>";
    expect_config_error(j, {"eos_token_id", "expected an integer or a list"});
    j = qwen3_06b();
    j["eos_token_id"] = {1, "x"};
    expect_config_error(j, {"eos_token_id", "expected integers"});
    j = qwen3_06b();
    j["rope_scaling"] = "llama3";
    expect_config_error(j, {"rope_scaling", "expected an object"});
    j = qwen3_06b();
    j["rope_scaling"] = {{"rope_type", 3}};
    expect_config_error(j, {"rope_scaling.rope_type", "expected a string"});
    j = qwen3_06b();
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", "two"}};
    expect_config_error(j, {"rope_scaling.factor", "expected a number"});
}

TEST(Config, DeeplyNestedValueIsAnErrorNotACrash) {
    std::string text = qwen3_06b().dump();
    const size_t depth = 1'000'000;
    text.replace(text.find("\"hidden_size\":1024"), 18,
                 "\"hidden_size\":" + std::string(depth, '[') + std::string(depth, ']'));
    try {
        model_config_from_json(text, "cfg.json");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("hidden_size: expected an integer, got an array of 1 elements"),
                  std::string::npos)
            << e.what();
    }
}

TEST(Config, OutOfRangeNumbers) {
    json j = qwen3_06b();
    j["hidden_size"] = 4294967297ULL;  // would wrap to 1 as an int
    expect_config_error(j, {"hidden_size", "out of range"});
    j = qwen3_06b();
    j["vocab_size"] = -5;
    expect_config_error(j, {"vocab_size", "must be > 0"});
    j = qwen3_06b();
    j["rms_norm_eps"] = 1e300;  // beyond float
    expect_config_error(j, {"rms_norm_eps", "out of range"});
    j = qwen3_06b();
    j["head_dim"] = 1 << 28;
    expect_config_error(j, {"num_attention_heads * head_dim", "too large"});
    j = qwen3_06b();
    j["eos_token_id"] = {1, 1ULL << 40};
    expect_config_error(j, {"eos_token_id"});
}

TEST(Config, UnsupportedModelsAndFeatures) {
    json j = qwen3_06b();
    j["model_type"] = "mistral";
    expect_config_error(j, {"model_type", "unsupported architecture 'mistral'"});
    j = qwen3_06b();
    j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 32768}};
    expect_config_error(j, {"rope_scaling.rope_type", "'yarn'"});
    j = qwen3_06b();
    j["rope_parameters"] = {{"rope_type", "dynamic"}, {"rope_theta", 1e6}};
    expect_config_error(j, {"rope_parameters.rope_type", "'dynamic'"});
    j = qwen3_06b();
    j["use_sliding_window"] = true;
    expect_config_error(j, {"use_sliding_window", "not supported"});
    j = qwen3_06b();
    j["hidden_act"] = "gelu";
    expect_config_error(j, {"hidden_act", "'gelu'"});
}

TEST(Config, InconsistentShapes) {
    json j = qwen3_06b();
    j["num_key_value_heads"] = 5;
    expect_config_error(j, {"num_key_value_heads", "multiple"});
    j = qwen3_06b();
    j["head_dim"] = 7;
    expect_config_error(j, {"head_dim", "even"});
    j = qwen3_06b();
    j.erase("head_dim");
    j["num_attention_heads"] = 3;
    j["num_key_value_heads"] = 3;
    expect_config_error(j, {"head_dim", "not a multiple"});
    j = qwen3_06b();
    j["num_attention_heads"] = 0;
    expect_config_error(j, {"num_attention_heads", "> 0"});
}

// Issue #15: sizes that cannot be allocated used to fail as a bare "cannot create std::vector
// larger than max_size()"; now validate() names the fields.
TEST(Config, SizesThatCannotBeAllocatedAreNamed) {
    json j = qwen3_06b();
    j["hidden_size"] = 1000000000;
    expect_config_error(j, {"hidden_size", "can be allocated"});
    j = qwen3_06b();
    j["vocab_size"] = 2000000000;
    j["hidden_size"] = 1000000;
    expect_config_error(j, {"vocab_size * hidden_size", "can be allocated"});
    j = qwen3_06b();
    j["intermediate_size"] = 2000000000;
    expect_config_error(j, {"intermediate_size * hidden_size", "can be allocated"});
    j = qwen3_06b();  // every tensor fits the bound, their sum does not
    j["intermediate_size"] = 200000000;
    j["num_hidden_layers"] = 1000;
    expect_config_error(j, {"parameters", "num_hidden_layers", "can be allocated"});
    j = qwen3_06b();
    j["max_position_embeddings"] = 0;
    expect_config_error(j, {"max_position_embeddings", "> 0"});

    // init-model and model.init build a ModelConfig directly: validate() is what stops them.
    ModelConfig c = parse(qwen3_06b());
    c.hidden = 1000000000;
    try {
        c.validate();
        FAIL() << "hidden 1e9 validated";
    } catch (const stride::Error& e) {
        EXPECT_NE(std::string(e.what()).find("hidden_size"), std::string::npos) << e.what();
    }
}

// A config that validates but whose parameters exceed this machine's memory is refused when the
// model is allocated, with the sizes, instead of a bad_alloc or an OOM kill.
TEST(Config, ModelLargerThanMemoryIsRefusedWithItsSize) {
    ModelConfig c = parse(qwen3_06b());
    c.hidden = 8192;
    c.heads = 64;
    c.kv_heads = 8;
    c.head_dim = 128;
    c.intermediate = 32768;
    c.layers = 1000;  // ~9.6e11 parameters (3.5 TiB): under validate()'s 2^40, over any test machine's memory
    c.validate();
    try {
        stride::Model m(c);
        FAIL() << "allocated a model larger than memory";
    } catch (const stride::Error& e) {
        EXPECT_NE(std::string(e.what()).find("GiB of memory"), std::string::npos) << e.what();
    }
}

TEST(Config, NotJsonOrNotAnObject) {
    try {
        model_config_from_json("{\"hidden_size\": ", "cfg.json");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cfg.json: invalid JSON"), std::string::npos) << e.what();
    }
    expect_config_error(json::array({1, 2}), {"expected a JSON object"});
}
