// samples.jsonl: the lines of sampled training groups and eval generations (sample_log.h).
#include "trainer/sample_log.h"

#include <algorithm>

#include "common/base/error.h"

namespace stride {

namespace {

const char* finish_reason_name(v1::FinishReason r) {
    switch (r) {
        case v1::FINISH_REASON_STOP:
            return "stop";
        case v1::FINISH_REASON_LENGTH:
            return "length";
        case v1::FINISH_REASON_ABORTED:
            return "aborted";
        default:
            return "unspecified";
    }
}

}  // namespace

std::string clip_text(const std::string& text, size_t max_bytes) {
    if (text.size() <= max_bytes) return text;
    size_t cut = max_bytes;
    // Back off continuation bytes (10xxxxxx) so the kept part ends on a whole character.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return text.substr(0, cut) + " ...[" + std::to_string(text.size() - cut) + " bytes cut]";
}

const char* reward_status_name(v1::RewardStatus status) {
    switch (status) {
        case v1::REWARD_STATUS_OK:
            return "ok";
        case v1::REWARD_STATUS_ERROR:
            return "error";
        case v1::REWARD_STATUS_TIMEOUT:
            return "timeout";
        case v1::REWARD_STATUS_UNPARSEABLE:
            return "unparseable";
        default:
            return "pending";
    }
}

nlohmann::json train_sample_line(int64_t step, const v1::Sample& s, const Tokenizer& tok,
                                 const std::vector<int>& stop_tokens) {
    const std::vector<int> prompt(s.prompt_token_ids().begin(), s.prompt_token_ids().end());
    const std::vector<int> response(s.response_token_ids().begin(), s.response_token_ids().end());
    int64_t vmin = s.policy_version(), vmax = s.policy_version();
    if (!s.token_version().empty()) {
        const auto [lo, hi] = std::minmax_element(s.token_version().begin(), s.token_version().end());
        vmin = *lo, vmax = *hi;
    }
    nlohmann::json line = {{"kind", "train"},
                           {"step", step},
                           {"group_id", s.group_id()},
                           {"prompt_id", s.prompt_id()},
                           {"index", s.index_in_group()},
                           {"prompt", clip_text(tok.decode(prompt))},
                           {"response", clip_text(response_text(tok, response, stop_tokens))},
                           {"answer", clip_text(s.label())},
                           {"reward", s.reward()},
                           {"reward_status", reward_status_name(s.reward_status())},
                           {"correct", s.correct()},
                           {"policy_version", s.policy_version()},
                           {"token_versions", {vmin, vmax}},
                           {"length", response.size()},
                           {"finish_reason", finish_reason_name(s.finish_reason())}};
    if (!s.reward_detail().empty()) line["reward_detail"] = clip_text(s.reward_detail());
    return line;
}

nlohmann::json eval_sample_line(int64_t step, int64_t policy_version, int index, const EvalSample& e) {
    return {{"kind", "eval"},
            {"step", step},
            {"policy_version", policy_version},
            {"index", index},
            {"prompt", clip_text(e.prompt)},
            {"response", clip_text(e.response)},
            {"answer", clip_text(e.answer)},
            {"reward", e.reward},
            {"correct", e.correct},
            {"length", e.length},
            {"truncated", e.truncated}};
}

SampleLog::SampleLog(const std::string& path, const LogConfig& cfg, const Tokenizer& tok,
                     std::vector<int> stop_tokens)
    : every_(cfg.samples_every),
      groups_(cfg.samples_groups),
      eval_(cfg.samples_eval),
      tok_(tok),
      stop_tokens_(std::move(stop_tokens)),
      path_(path) {
    if (!enabled()) return;
    out_.open(path, std::ios::app);
    STRIDE_CHECK(out_.good(), "samples.jsonl: cannot open " + path);
}

void SampleLog::write_step(int64_t step, const std::vector<v1::Batch>& batches) {
    if (!enabled() || step % every_ != 0) return;
    std::vector<const v1::Group*> groups;
    for (const v1::Batch& batch : batches)
        for (const v1::Group& group : batch.groups()) groups.push_back(&group);
    const size_t n = std::min(groups.size(), static_cast<size_t>(groups_));
    std::partial_sort(groups.begin(), groups.begin() + n, groups.end(),
                      [](const v1::Group* a, const v1::Group* b) { return a->group_id() < b->group_id(); });
    for (size_t g = 0; g < n; ++g)
        for (const v1::Sample& s : groups[g]->samples())
            write(train_sample_line(step, s, tok_, stop_tokens_));
    out_.flush();
}

void SampleLog::write_eval(int64_t step, int64_t policy_version, const std::vector<EvalSample>& samples) {
    if (!enabled()) return;
    for (size_t i = 0; i < samples.size() && i < static_cast<size_t>(eval_); ++i)
        write(eval_sample_line(step, policy_version, static_cast<int>(i), samples[i]));
    out_.flush();
}

void SampleLog::write(const nlohmann::json& line) {
    // Decoded text may hold invalid UTF-8 (a token cut mid-character): replaced, never thrown.
    out_ << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    STRIDE_CHECK(out_.good(), "samples.jsonl: write failed: " + path_);
}

}  // namespace stride
