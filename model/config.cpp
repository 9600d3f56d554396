#include "model/config.h"

#include <cfloat>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base/error.h"
#include "model/json_brief.h"

namespace stride {

using nlohmann::json;

const char* arch_name(Arch a) {
    switch (a) {
        case Arch::llama:
            return "llama";
        case Arch::qwen2:
            return "qwen2";
        case Arch::qwen3:
            return "qwen3";
    }
    return "?";
}

Arch arch_from_name(const std::string& name) {
    if (name == "llama") return Arch::llama;
    if (name == "qwen2") return Arch::qwen2;
    if (name == "qwen3") return Arch::qwen3;
    throw Error("unsupported architecture '" + name + "' (supported: llama, qwen2, qwen3)");
}

namespace {
// 1.5e+18: a size in messages, readable at any magnitude.
std::string count_text(double n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", n);
    return buf;
}
}  // namespace

void ModelConfig::validate() const {
    auto positive = [](const char* key, long v) {
        STRIDE_CHECK(v > 0, std::string("config: ") + key + " must be > 0, got " + std::to_string(v));
    };
    positive("hidden_size", hidden);
    positive("intermediate_size", intermediate);
    positive("num_hidden_layers", layers);
    positive("num_attention_heads", heads);
    positive("num_key_value_heads", kv_heads);
    positive("head_dim", head_dim);
    positive("vocab_size", vocab);
    STRIDE_CHECK(heads % kv_heads == 0, "config: num_attention_heads (" + std::to_string(heads) +
                                            ") must be a multiple of num_key_value_heads (" +
                                            std::to_string(kv_heads) + ")");
    // q_dim() and kv_dim() are ints: keep their products in range (signed overflow is UB).
    STRIDE_CHECK(static_cast<int64_t>(heads) * head_dim <= INT_MAX,
                 "config: num_attention_heads * head_dim = " +
                     std::to_string(static_cast<int64_t>(heads) * head_dim) + " is too large");
    STRIDE_CHECK(head_dim % 2 == 0,
                 "config: head_dim must be even for RoPE, got " + std::to_string(head_dim));
    positive("max_position_embeddings", max_position);
    // Sizes that no machine can hold fail here, naming the fields, rather than as a bare
    // std::length_error or std::bad_alloc when the parameters are allocated. Computed in double:
    // the products of int fields overflow 64 bits long before they stop fitting in a double.
    const double H = hidden, I = intermediate, V = vocab, L = layers;
    const double Hq = static_cast<double>(heads) * head_dim, Hkv = static_cast<double>(kv_heads) * head_dim;
    auto tensor = [](const std::string& what, double elements) {
        STRIDE_CHECK(elements <= kMaxTensorElements, "config: " + what + " = " + count_text(elements) +
                                                         " elements in one tensor, more than the " +
                                                         count_text(kMaxTensorElements) +
                                                         " that can be allocated");
    };
    tensor("vocab_size * hidden_size", V * H);
    tensor("num_attention_heads * head_dim * hidden_size", Hq * H);
    tensor("num_key_value_heads * head_dim * hidden_size", Hkv * H);
    tensor("intermediate_size * hidden_size", I * H);
    const double per_layer = H * (Hq + 2 * Hkv) + Hq * H + 3 * I * H + 2 * H;
    const double params = V * H * (tie_embeddings ? 1 : 2) + L * per_layer + H;
    STRIDE_CHECK(params <= kMaxTensorElements,
                 "config: about " + count_text(params) + " parameters (hidden_size is " +
                     std::to_string(hidden) + ", intermediate_size is " + std::to_string(intermediate) +
                     ", num_hidden_layers is " + std::to_string(layers) + ", vocab_size is " +
                     std::to_string(vocab) + "), more than the " + count_text(kMaxTensorElements) +
                     " that can be allocated");
    STRIDE_CHECK(rms_eps > 0, "config: rms_norm_eps must be > 0");
    STRIDE_CHECK(rope_theta > 0, "config: rope_theta must be > 0");
    STRIDE_CHECK(rope_scaling.factor > 0, "config: rope_scaling.factor must be > 0");
}

namespace {

bool fits_int(const json& v) {
    if (v.is_number_unsigned()) return v.get<uint64_t>() <= static_cast<uint64_t>(INT_MAX);
    return v.is_number_integer() && v.get<int64_t>() >= INT_MIN && v.get<int64_t>() <= INT_MAX;
}

// Typed field access with errors that name the file and the key.
struct Reader {
    const json& j;
    const std::string& source;

    [[noreturn]] void fail(const std::string& key, const std::string& what) const {
        throw Error(source + ": " + key + ": " + what);
    }
    bool has(const char* key) const { return j.contains(key) && !j.at(key).is_null(); }
    long integer(const char* key) const {
        if (!has(key)) fail(key, "missing required field");
        const json& v = j.at(key);
        if (!v.is_number_integer()) fail(key, "expected an integer, got " + json_brief(v));
        // Range-check before narrowing: 4294967297 must not silently become 1.
        if (!fits_int(v)) fail(key, "value " + json_brief(v) + " is out of range");
        return v.get<long>();
    }
    long integer(const char* key, long fallback) const { return has(key) ? integer(key) : fallback; }
    // `prefix` names the enclosing object in errors ("rope_scaling.factor").
    double number(const json& obj, const std::string& key, double fallback,
                  const std::string& prefix = "") const {
        if (!obj.contains(key) || obj.at(key).is_null()) return fallback;
        const json& v = obj.at(key);
        if (!v.is_number()) fail(prefix + key, "expected a number, got " + json_brief(v));
        return v.get<double>();
    }
    // A number stored as float: a double beyond float range would be UB to narrow, so it is an error.
    float real(const json& obj, const std::string& key, double fallback,
               const std::string& prefix = "") const {
        const double x = number(obj, key, fallback, prefix);
        if (!(std::fabs(x) <= FLT_MAX)) fail(prefix + key, "value " + std::to_string(x) + " is out of range");
        return static_cast<float>(x);
    }
    bool boolean(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        const json& v = j.at(key);
        if (!v.is_boolean()) fail(key, "expected true or false, got " + json_brief(v));
        return v.get<bool>();
    }
    std::string string(const char* key, const std::string& fallback) const {
        if (!has(key)) return fallback;
        const json& v = j.at(key);
        if (!v.is_string()) fail(key, "expected a string, got " + json_brief(v));
        return v.get<std::string>();
    }
};

}  // namespace

ModelConfig model_config_from_json(const std::string& text, const std::string& source) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::parse_error& e) {
        throw Error(source + ": invalid JSON: " + e.what());
    }
    if (!j.is_object()) throw Error(source + ": expected a JSON object");
    Reader r{j, source};
    ModelConfig c;
    if (!r.has("model_type")) r.fail("model_type", "missing required field");
    const std::string mt = r.string("model_type", "");
    try {
        c.arch = arch_from_name(mt);
    } catch (const Error& e) {
        r.fail("model_type", e.what());
    }
    c.hidden = static_cast<int>(r.integer("hidden_size"));
    c.intermediate = static_cast<int>(r.integer("intermediate_size"));
    c.layers = static_cast<int>(r.integer("num_hidden_layers"));
    c.heads = static_cast<int>(r.integer("num_attention_heads"));
    c.kv_heads = static_cast<int>(r.integer("num_key_value_heads", c.heads));
    c.vocab = static_cast<int>(r.integer("vocab_size"));
    if (c.heads <= 0) r.fail("num_attention_heads", "must be > 0");
    c.head_dim = static_cast<int>(r.integer("head_dim", c.hidden / c.heads));
    if (!r.has("head_dim") && c.hidden % c.heads != 0)
        r.fail("head_dim", "missing and hidden_size is not a multiple of num_attention_heads");
    c.rms_eps = r.real(j, "rms_norm_eps", 1e-6);
    c.max_position = static_cast<int>(r.integer("max_position_embeddings", 32768));
    c.tie_embeddings = r.boolean("tie_word_embeddings", false);
    const std::string act = r.string("hidden_act", "silu");
    if (act != "silu") r.fail("hidden_act", "unsupported activation '" + act + "' (only silu)");
    if (r.boolean("use_sliding_window", false))
        r.fail("use_sliding_window", "sliding-window attention is not supported");

    // Biases: Qwen2 hard-codes q/k/v bias and no o bias; Llama/Qwen3 follow attention_bias.
    if (c.arch == Arch::qwen2) {
        c.qkv_bias = true;
        c.o_bias = false;
    } else {
        c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
    }
    c.mlp_bias = c.arch == Arch::llama && r.boolean("mlp_bias", false);
    c.qk_norm = c.arch == Arch::qwen3;

    // RoPE: v4 keys at top level, v5 inside rope_parameters (with BC). theta defaults to 10000.
    const json* rp = nullptr;
    if (r.has("rope_parameters"))
        rp = &j.at("rope_parameters");
    else if (r.has("rope_scaling"))
        rp = &j.at("rope_scaling");
    c.rope_theta = r.number(j, "rope_theta", 10000.0);
    if (rp) {
        const std::string key = r.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
        if (!rp->is_object()) r.fail(key.c_str(), "expected an object");
        const std::string p = key + ".";
        c.rope_theta = r.number(*rp, "rope_theta", c.rope_theta, p);
        std::string type = "default";
        for (const char* type_key : {"type", "rope_type"}) {  // rope_type wins over the legacy type
            if (!rp->contains(type_key) || rp->at(type_key).is_null()) continue;
            const json& t = rp->at(type_key);
            if (!t.is_string()) r.fail(p + type_key, "expected a string, got " + json_brief(t));
            type = t.get<std::string>();
        }
        if (type == "default") {
            c.rope_scaling.type = RopeScalingType::none;
        } else if (type == "linear") {
            c.rope_scaling.type = RopeScalingType::linear;
            c.rope_scaling.factor = r.real(*rp, "factor", 1.0, p);
        } else if (type == "llama3") {
            c.rope_scaling.type = RopeScalingType::llama3;
            c.rope_scaling.factor = r.real(*rp, "factor", 8.0, p);
            c.rope_scaling.low_freq_factor = r.real(*rp, "low_freq_factor", 1.0, p);
            c.rope_scaling.high_freq_factor = r.real(*rp, "high_freq_factor", 4.0, p);
            const double orig = r.number(*rp, "original_max_position_embeddings", 8192, p);
            if (!(orig >= 1 && orig <= INT_MAX))
                r.fail(p + "original_max_position_embeddings", "must be a positive integer");
            c.rope_scaling.original_max_position_embeddings = static_cast<int>(orig);
        } else {
            r.fail((key + ".rope_type").c_str(),
                   "unsupported RoPE scaling '" + type + "' (supported: default, linear, llama3)");
        }
    }

    c.bos_token_id = static_cast<int>(r.integer("bos_token_id", -1));
    if (r.has("eos_token_id")) {
        const json& e = j.at("eos_token_id");
        if (e.is_number_integer())
            c.eos_token_ids = {static_cast<int>(r.integer("eos_token_id"))};
        else if (e.is_array()) {
            for (const json& x : e) {
                if (!fits_int(x)) r.fail("eos_token_id", "expected integers, got " + json_brief(e));
                c.eos_token_ids.push_back(x.get<int>());
            }
        } else {
            r.fail("eos_token_id", "expected an integer or a list of integers, got " + json_brief(e));
        }
    }
    c.torch_dtype = r.string("torch_dtype", r.string("dtype", "float32"));
    try {
        c.validate();
    } catch (const Error& e) {
        throw Error(source + ": " + e.what());
    }
    return c;
}

ModelConfig model_config_load(const std::string& path) {
    std::string file = path;
    if (file.size() < 5 || file.compare(file.size() - 5, 5, ".json") != 0) file += "/config.json";
    std::ifstream in(file, std::ios::binary);
    if (!in) throw Error(file + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    return model_config_from_json(ss.str(), file);
}

// A float as the shortest decimal that reads back as the same float: 1e-6f is written "1e-06" (what
// HF configs hold), not the double 9.999999974752427e-07.
static double float_for_json(float x) {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, x);
    *res.ptr = '\0';
    return std::strtod(buf, nullptr);
}

std::string model_config_to_json(const ModelConfig& c) {
    static const char* kClass[] = {"LlamaForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM"};
    json j;
    j["architectures"] = {kClass[static_cast<int>(c.arch)]};
    j["model_type"] = arch_name(c.arch);
    j["hidden_size"] = c.hidden;
    j["intermediate_size"] = c.intermediate;
    j["num_hidden_layers"] = c.layers;
    j["num_attention_heads"] = c.heads;
    j["num_key_value_heads"] = c.kv_heads;
    j["head_dim"] = c.head_dim;
    j["vocab_size"] = c.vocab;
    j["hidden_act"] = "silu";
    j["rms_norm_eps"] = float_for_json(c.rms_eps);
    j["rope_theta"] = c.rope_theta;
    switch (c.rope_scaling.type) {
        case RopeScalingType::none:
            j["rope_scaling"] = nullptr;
            break;
        case RopeScalingType::linear:
            j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", float_for_json(c.rope_scaling.factor)}};
            break;
        case RopeScalingType::llama3:
            j["rope_scaling"] = {
                {"rope_type", "llama3"},
                {"factor", float_for_json(c.rope_scaling.factor)},
                {"low_freq_factor", float_for_json(c.rope_scaling.low_freq_factor)},
                {"high_freq_factor", float_for_json(c.rope_scaling.high_freq_factor)},
                {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
            break;
    }
    j["max_position_embeddings"] = c.max_position;
    j["tie_word_embeddings"] = c.tie_embeddings;
    if (c.arch != Arch::qwen2) j["attention_bias"] = c.qkv_bias;
    if (c.arch == Arch::llama) j["mlp_bias"] = c.mlp_bias;
    if (c.arch != Arch::llama) {
        j["use_sliding_window"] = false;
        j["sliding_window"] = nullptr;
        j["max_window_layers"] = c.layers;
    }
    j["attention_dropout"] = 0.0;
    j["initializer_range"] = 0.02;
    j["use_cache"] = true;
    if (c.bos_token_id >= 0) j["bos_token_id"] = c.bos_token_id;
    if (c.eos_token_ids.size() == 1)
        j["eos_token_id"] = c.eos_token_ids[0];
    else if (!c.eos_token_ids.empty())
        j["eos_token_id"] = c.eos_token_ids;
    j["torch_dtype"] = c.torch_dtype;
    return j.dump(2) + "\n";
}

void model_config_save(const ModelConfig& c, const std::string& dir) {
    const std::string file = dir + "/config.json";
    std::ofstream out(file, std::ios::binary);
    if (!out) throw Error(file + ": cannot write");
    out << model_config_to_json(c);
    if (!out) throw Error(file + ": write failed");
}

}  // namespace stride
