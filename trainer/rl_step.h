// One policy-gradient update from a batch of groups: advantages, per-token PPO-clip loss aggregated
// over the whole batch, backward through the engine in micro-batches of at most
// `micro_batch_tokens`, grad-norm clipping and AdamW. The model only sees d loss / d logprob and
// d loss / d entropy per token (Transformer::backward); every algorithm lives here.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "model/optim.h"
#include "model/params.h"
#include "model/transformer.h"
#include "trainer/experience.h"
#include "trainer/policy_loss.h"

namespace stride {

struct RlStepOptions {
    bool divide_adv_by_std = true;  // GRPO (false: Dr.GRPO)
    double adv_eps = 1e-6;
    PolicyLossOptions loss;
    double entropy_coef = 0.0;
    float temperature = 1.0f;       // log-probs of the temperature-scaled policy, as sampled
    int micro_batch_tokens = 8192;  // 0: the whole batch in one forward
    float grad_clip = 1.0f;
    bool recompute = false;
};

// Per-step numbers for metrics.jsonl (keys as they appear there).
using StepMetrics = std::map<std::string, double>;

class RlTrainer {
   public:
    RlTrainer(Model& model, const AdamWConfig& adam, const LrSchedule& schedule);

    // Trains on `batch` with the current weights as the proximal policy (one optimiser step per
    // batch). policy_version is the version the weights have now (for staleness and the
    // train-inference mismatch, measured on tokens sampled by this very version).
    StepMetrics step(const std::vector<Experience>& batch, const RlStepOptions& opt, int64_t policy_version);

    AdamW& optimizer() { return adam_; }
    int64_t steps_done() const { return adam_.step_count(); }

   private:
    Model& model_;
    Transformer engine_;
    AdamW adam_;
    LrSchedule schedule_;
    std::vector<float> grads_;
};

}  // namespace stride
