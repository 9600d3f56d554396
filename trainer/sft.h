// Supervised warm start: next-token cross-entropy on the answer tokens only (the prompt carries no
// loss), token-mean over the batch, AdamW. Runs through the same engine as RL: the loss is expressed
// as d loss / d logprob = -1/N on every answer token.
#pragma once
#include <cstdint>
#include <vector>

#include "model/optim.h"
#include "model/params.h"
#include "model/trainable_model.h"

namespace stride {

struct SftExample {
    std::vector<int> prompt;
    std::vector<int> target;  // answer tokens followed by the stop token
};

class SftTrainer {
   public:
    // Trains `model` on `backend`; model.data holds the new weights after each step.
    SftTrainer(Model& model, const AdamWConfig& adam, const LrSchedule& schedule, float grad_clip = 1.0f,
               const Backend& backend = cpu_backend());
    // One optimiser step on the batch; returns the mean negative log-likelihood per answer token.
    double step(const std::vector<SftExample>& batch);
    int64_t steps_done() const { return trained_.optimizer().step_count(); }

   private:
    TrainableModel trained_;
    LrSchedule schedule_;
    float grad_clip_;
};

}  // namespace stride
