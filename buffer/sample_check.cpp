#include "buffer/sample_check.h"

#include <cmath>

namespace stride {

namespace {

constexpr float kMaxLogprob = 1e-3f;  // a behaviour log-prob above this is refused (0 plus rounding)

std::string check_shape(const v1::Sample& s, const BufferServerConfig& cfg, const std::string& who) {
    if (s.group_id().empty()) return who + " has no group_id";
    if (s.sample_id().find('\0') != std::string::npos || s.group_id().find('\0') != std::string::npos)
        return who + ": ids may not contain NUL bytes";
    if (s.group_size() != 0 && s.group_size() != cfg.group_size)
        return who + " says group_size " + std::to_string(s.group_size()) +
               " but the buffer is configured for " + std::to_string(cfg.group_size);
    if (s.index_in_group() >= cfg.group_size)
        return who + ": index_in_group " + std::to_string(s.index_in_group()) + " >= group_size " +
               std::to_string(cfg.group_size);
    const int n = s.response_token_ids_size();
    if (s.behaviour_logprob_size() != n)
        return who + ": " + std::to_string(s.behaviour_logprob_size()) + " behaviour_logprob for " +
               std::to_string(n) + " response tokens";
    if (s.token_version_size() != 0 && s.token_version_size() != n)
        return who + ": " + std::to_string(s.token_version_size()) + " token_version for " +
               std::to_string(n) + " response tokens";
    return "";
}

std::string check_sizes(const v1::Sample& s, const BufferServerConfig& cfg, bool at_door,
                        const std::string& who) {
    const int n = s.response_token_ids_size();
    if (at_door && cfg.max_sample_bytes > 0) {
        const size_t bytes = s.ByteSizeLong();
        if (bytes > static_cast<size_t>(cfg.max_sample_bytes))
            return who + ": " + std::to_string(bytes) + " bytes, more than the limit of " +
                   std::to_string(cfg.max_sample_bytes);
    }
    if (at_door && cfg.max_response_tokens > 0 && n > cfg.max_response_tokens)
        return who + ": response_token_ids holds " + std::to_string(n) +
               " tokens, more than rollout.max_tokens " + std::to_string(cfg.max_response_tokens);
    const int64_t total = int64_t{s.prompt_token_ids_size()} + n;
    if (cfg.max_position > 0 && total > cfg.max_position)
        return who + ": prompt_token_ids + response_token_ids hold " + std::to_string(total) +
               " tokens, more than the model's max_position_embeddings " + std::to_string(cfg.max_position);
    return "";
}

std::string check_tokens(const google::protobuf::RepeatedField<int32_t>& ids, const char* field,
                         int64_t vocab_size, const std::string& who) {
    for (int i = 0; i < ids.size(); ++i)
        if (ids[i] < 0 || (vocab_size > 0 && ids[i] >= vocab_size))
            return who + ": " + field + "[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                   (vocab_size > 0 ? " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")"
                                   : " is negative");
    return "";
}

// Log-probs finite and <= 0, up to rounding (a sampled token's log-softmax may round a hair above 0);
// a finite reward.
std::string check_numbers(const v1::Sample& s, const std::string& who) {
    for (int i = 0; i < s.behaviour_logprob_size(); ++i) {
        const float lp = s.behaviour_logprob(i);
        if (!std::isfinite(lp) || lp > kMaxLogprob)
            return who + ": behaviour_logprob[" + std::to_string(i) + "] = " + std::to_string(lp) +
                   " is not a finite log-probability (<= 0)";
    }
    if (!std::isfinite(s.reward())) return who + ": reward " + std::to_string(s.reward()) + " is not finite";
    return "";
}

// Versions: never negative, and never ahead of what the trainer can have published. index < 0 names
// policy_version, else token_version[index] (the name is built only for the message: this runs per token).
std::string check_version(int64_t v, int index, const SampleVersionBound& bound, const std::string& who) {
    if (v >= 0 && v <= bound.newest) return "";
    const std::string field = index < 0 ? "policy_version" : "token_version[" + std::to_string(index) + "]";
    if (v < 0) return who + ": " + field + " = " + std::to_string(v) + " is negative";
    return who + ": " + field + " = " + std::to_string(v) + " is ahead of the newest policy version (" +
           std::to_string(bound.newest) + ": trainer version " + std::to_string(bound.trainer_version) +
           " + " + std::to_string(bound.ahead) + ")";
}

}  // namespace

std::string check_sample(const v1::Sample& s, const BufferServerConfig& cfg, bool at_door,
                         const SampleVersionBound& bound) {
    if (s.sample_id().empty()) return "sample has no sample_id";
    const std::string who = "sample " + s.sample_id();
    std::string why = check_shape(s, cfg, who);
    if (why.empty()) why = check_sizes(s, cfg, at_door, who);
    if (why.empty()) why = check_tokens(s.prompt_token_ids(), "prompt_token_ids", cfg.vocab_size, who);
    if (why.empty()) why = check_tokens(s.response_token_ids(), "response_token_ids", cfg.vocab_size, who);
    if (why.empty()) why = check_numbers(s, who);
    if (why.empty()) why = check_version(s.policy_version(), -1, bound, who);
    for (int i = 0; why.empty() && i < s.token_version_size(); ++i)
        why = check_version(s.token_version(i), i, bound, who);
    return why;
}

}  // namespace stride
