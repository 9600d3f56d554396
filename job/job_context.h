// What every role of one job shares, built once from the resolved JobConfig: the tokenizer, stop
// tokens, the reward, the tokenized prompt sets and the model architecture. Each role (thread or
// process) builds its own JobContext from the same config, so they agree without talking.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/curve_keys.h"
#include "job/prompt.h"
#include "model/config.h"
#include "model/tokenizer/tokenizer.h"
#include "reward/reward.h"

namespace stride {

struct JobContext {
    JobConfig cfg;
    std::string job_id;  // the job's name; every envelope carries it
    Tokenizer tokenizer;
    std::vector<int> stop_tokens;
    std::shared_ptr<const RewardFn> reward;
    std::vector<TokenizedPrompt> train;
    std::vector<TokenizedPrompt> eval;
    // The job's CURVE keys (network.auth, network.keys_dir): every role's ZmqContext is made with
    // them; null: plain sockets.
    std::shared_ptr<const CurveKeys> curve;

    std::string run_path() const { return cfg.run_path(); }
    // Architecture of the policy: model.path's config.json, or model.init with the tokenizer's size.
    ModelConfig model_config() const;
};

// Loads the tokenizer and datasets and builds the reward. Throws Error naming the config key at fault.
JobContext make_job_context(const JobConfig& cfg);

// Stop tokens of a tokenizer: the end-of-text/turn tokens it defines (<|endoftext|>, <|im_end|>,
// <|eot_id|>, <|end_of_text|>, </s>), in that order.
std::vector<int> default_stop_tokens(const Tokenizer& tok);

}  // namespace stride
