// Accuracy of a policy on a fixed prompt set: generate (greedy or sampled) with the engine's
// continuous-batching generator, decode, score with the job's reward in one batched call
// (RewardFn::score_batch: one round trip per worker process for plug-in and Python rewards).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "job/prompt.h"
#include "model/params.h"
#include "model/tokenizer/tokenizer.h"
#include "reward/reward.h"

namespace stride {

struct EvalOptions {
    float temperature = 0.0f;  // 0 = greedy
    int max_tokens = 16;
    std::vector<int> stop_tokens;
    uint64_t seed = 1;
    int max_running = 256;
    int keep_samples = 0;  // how many generations (the first prompts) EvalResult::samples keeps
};

// One eval generation, kept for samples.jsonl.
struct EvalSample {
    std::string prompt, response, answer;
    double reward = 0;
    bool correct = false;
    int length = 0;  // response tokens
    bool truncated = false;
};

struct EvalResult {
    int n = 0;
    double accuracy = 0;
    double reward_mean = 0;
    double response_length_mean = 0;
    std::vector<EvalSample> samples;  // the first EvalOptions::keep_samples prompts, in prompt order
};

EvalResult evaluate(const Model& model, const Tokenizer& tok, const RewardFn& reward,
                    const std::vector<TokenizedPrompt>& prompts, const EvalOptions& opt);

// Decoded response text for the reward: the stop token, if it ends the response, is not part of it.
std::string response_text(const Tokenizer& tok, const std::vector<int>& response,
                          const std::vector<int>& stop_tokens);

}  // namespace stride
