// What tests/trainer/test_rl_step_ranks.cpp and its helper process (rank_step_helper.cpp) train: the
// same start, batch and options on every rank, named by a variant.
#pragma once
#include <string>
#include <vector>

#include "tests/trainer/rl_test_util.h"
#include "trainer/rl_step.h"

namespace stride::test {

// token_mean | seq_mean | kl | minibatches (two mini-batches, two epochs: the scoring passes split too)
inline RlStepOptions rank_variant(const std::string& v) {
    RlStepOptions o;
    o.micro_batch_tokens = 8;  // several micro-batches per rank
    if (v == "seq_mean") o.loss.agg = LossAgg::seq_mean_token_mean;
    if (v == "kl") o.kl_coef = 0.1, o.entropy_coef = 0.01;
    if (v == "minibatches") o.mini_batches = 2, o.ppo_epochs = 2;
    return o;
}

inline constexpr int kRankSteps = 2;

// A batch of four groups (make_batch's two, twice with other groups) so that ranks get unequal shares.
inline std::vector<Experience> rank_batch(const Model& m) {
    std::vector<Experience> b = make_batch(m), more = make_batch(m);
    for (Experience& x : more) {
        x.group += 2;
        x.reward = 1.0 - x.reward;
        x.response.push_back(20 + static_cast<int>(x.response.size()));
        x.behaviour_logprob.push_back(-3.0f);
        x.token_version.push_back(0);
    }
    b.insert(b.end(), more.begin(), more.end());
    return b;
}

inline Model rank_start_model() {
    Model m(tiny_config());
    model_init_random(m, 5);
    return m;
}

}  // namespace stride::test
