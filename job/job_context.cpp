#include "job/job_context.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <tuple>

#include "common/base/error.h"
#include "common/network_auth.h"
#include "job/data_gen.h"
#include "reward/composite_reward.h"
#include "reward/plugin/plugin_pool.h"
#include "reward/plugin/python_reward.h"
#include "reward/registry.h"

namespace stride {

namespace {

// The built-in term of reward.fn, if any: built-ins compare text, so they take a ground truth that is
// a string or a number; plug-ins and Python functions take any JSON (Python gets it typed).
std::string builtin_term(const std::string& fn) {
    for (const RewardTerm& t : parse_reward_terms(fn))
        if (!is_plugin_spec(t.fn) && !is_python_spec(t.fn)) return t.fn;
    return "";
}

void check_answer_types(const std::string& fn, const DatasetSplit& split) {
    const std::string builtin = builtin_term(fn);
    if (builtin.empty()) return;
    for (const std::vector<Example>* part : {&split.train, &split.eval})
        for (const Example& e : *part) {
            const char first = e.answer_json.empty() ? '"' : e.answer_json.front();
            STRIDE_CHECK(first != '[' && first != '{' && first != 't' && first != 'f',
                         e.where + ": the ground truth is " +
                             (first == '['   ? "a list"
                              : first == '{' ? "an object"
                                             : "a bool") +
                             " (" + e.answer_json.substr(0, 60) + "), but the built-in reward '" + builtin +
                             "' takes a string or a number; score it with a python: or plugin: reward");
        }
}

}  // namespace

std::vector<int> default_stop_tokens(const Tokenizer& tok) {
    std::vector<int> ids;
    for (const char* t : {"<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "</s>"}) {
        int id = tok.token_to_id(t);
        if (id >= 0) ids.push_back(id);
    }
    return ids;
}

ModelConfig JobContext::model_config() const {
    if (!cfg.model.path.empty()) return model_config_load(cfg.model.path);
    const ModelInitConfig& in = cfg.model.init;
    ModelConfig m;
    m.arch = arch_from_name(in.arch);
    m.hidden = in.hidden;
    m.layers = in.layers;
    m.heads = in.heads;
    m.kv_heads = in.kv_heads;
    m.head_dim = in.hidden / in.heads;
    m.intermediate = in.intermediate;
    m.vocab = in.vocab > 0 ? in.vocab : tokenizer.vocab_size();
    m.tie_embeddings = in.tie;
    m.qkv_bias = m.arch == Arch::qwen2;
    m.qk_norm = m.arch == Arch::qwen3;
    m.rope_theta = 10000.0;
    m.max_position = 4096;
    m.eos_token_ids = stop_tokens;
    try {
        m.validate();
    } catch (const Error& e) {  // the fields are model.init's keys here
        throw Error(std::string("model.init: ") + e.what());
    }
    return m;
}

JobContext make_job_context(const JobConfig& cfg) {
    std::string tok_path = cfg.tokenizer;
    if (tok_path.empty()) {
        STRIDE_CHECK(!cfg.model.path.empty(),
                     "tokenizer: not set, and model.path is empty (nowhere to find tokenizer.json)");
        tok_path = cfg.model.path + "/tokenizer.json";
    }
    STRIDE_CHECK(std::filesystem::exists(tok_path), "tokenizer: file not found: " + tok_path);
    JobContext ctx{cfg, cfg.name, Tokenizer::load(tok_path), {}, nullptr, {}, {}, nullptr};
    ctx.stop_tokens = default_stop_tokens(ctx.tokenizer);
    STRIDE_CHECK(!ctx.stop_tokens.empty(), "tokenizer: " + tok_path + " defines no end-of-text token");
    ctx.curve = job_curve_keys(cfg);
    ctx.reward = make_reward(reward_spec_from_config(cfg, ctx.curve));  // the reward bridge is keyed too

    DatasetSplit split = load_job_datasets(cfg);
    STRIDE_CHECK(!split.train.empty(), "data.train: no training prompts");
    check_answer_types(cfg.reward.fn, split);
    // Every prompt must leave room for rollout.max_tokens within the model's positions: a longer
    // one would run the decoder past its RoPE table and KV cache. Refused here, at load, naming the
    // row; each prompt is checked as soon as it is tokenized, so the first offender stops the load.
    const int max_position = ctx.model_config().max_position;
    const std::string position_source = cfg.model.path.empty()
                                            ? std::string("the model.init default")
                                            : "max_position_embeddings of " + cfg.model.path + "/config.json";
    // data.max_prompt_tokens drops longer prompts first, as verl's filter_overlong_prompts does.
    const int64_t max_prompt = cfg.data.max_prompt_tokens;
    auto tokenize = [&](const char* key, const Example& e, std::vector<TokenizedPrompt>& out) {
        std::vector<int> ids = ctx.tokenizer.encode(e.prompt);
        if (max_prompt > 0 && static_cast<int64_t>(ids.size()) > max_prompt) return;
        const int64_t need = static_cast<int64_t>(ids.size()) + cfg.rollout.max_tokens;
        STRIDE_CHECK(need <= max_position,
                     std::string(key) + ": " + e.where + ": the prompt is " + std::to_string(ids.size()) +
                         " tokens (" + std::to_string(e.prompt.size()) + " bytes); with rollout.max_tokens " +
                         std::to_string(cfg.rollout.max_tokens) + " that is " + std::to_string(need) +
                         " positions, more than the model's " + std::to_string(max_position) + " (" +
                         position_source + ")");
        out.push_back({std::move(ids), e.prompt, e.answer, e.data_source, e.extra_info_json, e.answer_json});
    };
    for (const Example& e : split.train) tokenize("data.train", e, ctx.train);
    for (const Example& e : split.eval) tokenize("data.eval", e, ctx.eval);
    if (max_prompt > 0) {
        for (auto [key, before, after] : {std::tuple{"data.train", split.train.size(), ctx.train.size()},
                                          std::tuple{"data.eval", split.eval.size(), ctx.eval.size()}})
            if (before != after)
                spdlog::info("{}: dropped {} of {} prompts longer than data.max_prompt_tokens = {}", key,
                             before - after, before, max_prompt);
        STRIDE_CHECK(!ctx.train.empty(), "data.train: every prompt is longer than data.max_prompt_tokens = " +
                                             std::to_string(max_prompt));
    }
    for (const auto& p : ctx.train) STRIDE_CHECK(!p.ids.empty(), "data.train: a prompt tokenizes to nothing");
    return ctx;
}

}  // namespace stride
