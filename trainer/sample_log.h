// trainer/sample_log.h: <run>/samples.jsonl, what the policy generated, for a person to read
// (log.samples_every). One JSON object per line, two kinds:
//   {"kind":"train","step":S,"group_id","prompt_id","index","prompt","response","answer","reward",
//    "reward_status":"ok|error|timeout|unparseable","reward_detail"?,"correct","policy_version",
//    "token_versions":[min,max],"length","finish_reason"}
//     every log.samples_every steps, each sample of the step's first log.samples_groups groups (by
//     group id: the same groups for a seed);
//   {"kind":"eval","step":S,"policy_version","index","prompt","response","answer","reward","correct",
//    "length","truncated"}
//     at each eval (the greedy eval of metrics.jsonl's eval/accuracy), the first log.samples_eval
//     eval prompts.
// Sizes are bounded: each text field keeps at most kSampleTextMaxBytes bytes (cut on a UTF-8
// boundary, with a note of how much was cut), and a line has a fixed number of fields. A resume
// removes the lines of steps after its checkpoint, like metrics.jsonl (step_log.h).
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "job/evaluate.h"
#include "model/tokenizer/tokenizer.h"
#include "proto/stride.pb.h"

namespace stride {

constexpr size_t kSampleTextMaxBytes = 2000;

// `text` cut to at most max_bytes on a UTF-8 character boundary, followed by " ...[N bytes cut]".
std::string clip_text(const std::string& text, size_t max_bytes = kSampleTextMaxBytes);

// "ok", "error", "timeout", "unparseable" or "pending".
const char* reward_status_name(v1::RewardStatus status);

// The train line of one sample (format above); the response is decoded without its stop token.
nlohmann::json train_sample_line(int64_t step, const v1::Sample& s, const Tokenizer& tok,
                                 const std::vector<int>& stop_tokens);
nlohmann::json eval_sample_line(int64_t step, int64_t policy_version, int index, const EvalSample& e);

class SampleLog {
   public:
    // Appends to `path` when cfg.samples_every > 0; otherwise writes nothing and opens nothing.
    SampleLog(const std::string& path, const LogConfig& cfg, const Tokenizer& tok,
              std::vector<int> stop_tokens);
    bool enabled() const { return every_ > 0; }
    int eval_samples() const { return enabled() ? eval_ : 0; }
    // The step's first `groups` groups by group id, when step is a multiple of samples_every.
    void write_step(int64_t step, const std::vector<v1::Batch>& batches);
    void write_eval(int64_t step, int64_t policy_version, const std::vector<EvalSample>& samples);

   private:
    void write(const nlohmann::json& line);
    int every_, groups_, eval_;
    const Tokenizer& tok_;
    std::vector<int> stop_tokens_;
    std::string path_;
    std::ofstream out_;
};

}  // namespace stride
