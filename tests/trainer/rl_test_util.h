// Tiny model, a two-group batch and Adam settings shared by the RL-step tests (test_rl_step.cpp,
// test_critic.cpp).
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "model/optim.h"
#include "model/params.h"
#include "model/transformer.h"
#include "trainer/experience.h"

namespace stride::test {

inline ModelConfig tiny_config() {
    ModelConfig c;
    c.arch = Arch::qwen2;
    c.hidden = 32;
    c.intermediate = 64;
    c.layers = 2;
    c.heads = 4;
    c.kv_heads = 2;
    c.head_dim = 8;
    c.vocab = 50;
    c.qkv_bias = true;
    c.tie_embeddings = true;
    return c;
}

// Sum of log-probs of `response` after `prompt` under the model.
inline double sequence_logprob(const Model& m, const std::vector<int>& prompt,
                               const std::vector<int>& response) {
    Transformer t(m);
    PackedBatch b;
    std::vector<int> seq = prompt;
    seq.insert(seq.end(), response.begin(), response.end());
    b.add_sequence(seq);
    TokenScores s = t.forward(b);
    double sum = 0;
    for (size_t i = prompt.size(); i < seq.size(); ++i) sum += s.logprob[i];
    return sum;
}

inline std::vector<Experience> make_batch(const Model& m) {
    // Two groups of three responses; behaviour log-probs taken from the model itself (on-policy).
    std::vector<Experience> batch;
    const std::vector<std::vector<int>> prompts = {{1, 2, 3}, {4, 5}};
    const std::vector<std::vector<std::vector<int>>> responses = {{{7, 8, 9}, {10, 11}, {12}},
                                                                  {{13, 14, 15, 16}, {17}, {18, 19}}};
    const std::vector<std::vector<double>> rewards = {{1, 0, 0}, {0, 1, 1}};
    Transformer t(m);
    for (int g = 0; g < 2; ++g) {
        for (int i = 0; i < 3; ++i) {
            Experience e;
            e.group = g;
            e.prompt = prompts[g];
            e.response = responses[g][i];
            e.reward = rewards[g][i];
            e.correct = e.reward > 0;
            PackedBatch b;
            std::vector<int> seq = e.prompt;
            seq.insert(seq.end(), e.response.begin(), e.response.end());
            b.add_sequence(seq);
            TokenScores s = t.forward(b);
            e.behaviour_logprob.assign(s.logprob.begin() + e.prompt.size(), s.logprob.end());
            e.token_version.assign(e.response.size(), 0);
            batch.push_back(e);
        }
    }
    return batch;
}

// Adam with a large eps: the first update is proportional to the gradient (instead of ~lr * sign(g),
// which turns float noise in near-zero gradients into lr-sized differences), so comparing the
// weights of two trainers compares their gradients.
inline AdamWConfig gradient_proportional_adam(float lr) {
    AdamWConfig ac;
    ac.lr = lr;
    ac.eps = 1.0f;
    return ac;
}

inline LrSchedule constant_lr(float lr) {
    LrSchedule sched;
    sched.base_lr = lr;
    return sched;
}

inline double max_weight_diff(const Model& a, const Model& b) {
    double d = 0;
    for (size_t i = 0; i < a.data.size(); ++i) d = std::max(d, (double)std::fabs(a.data[i] - b.data[i]));
    return d;
}

}  // namespace stride::test
