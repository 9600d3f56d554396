// PPO's learned critic (../shared/spec/algorithms.md §1): a value head (trainer/value_head.h) on the
// final normed hidden rows of a trunk, trained with the clipped value loss (trainer/gae.h).
//   shared:   the head reads the policy's own trunk; the value loss (x vf_coef) flows into the
//             policy's gradient through Transformer::backward's g_final_hidden.
//   separate: a second Model, initialised from the policy's weights when the critic is created (the
//             same checkpoint), with its own trunk optimiser; its forward skips the LM head.
// The head (and a separate trunk) step with their own AdamW at the critic's learning rate.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/optim.h"
#include "model/params.h"
#include "model/trainable_model.h"
#include "model/transformer.h"

namespace stride {

enum class CriticKind { shared, separate };
CriticKind critic_kind_from_name(const std::string& name);  // "shared" | "separate"
const char* critic_kind_name(CriticKind k);

struct CriticOptions {
    CriticKind kind = CriticKind::separate;
    AdamWConfig adam;  // adam.lr: the critic's base learning rate (trainer.critic_lr)
};

// One response's value-loss inputs inside a micro-batch: its n tokens start at packed position
// `start`; the value of token start+k is read from hidden row start+k-1 (the state before the
// token was emitted, as verl's values[:, -L-1:-1]).
struct ValueSlice {
    int start = 0;
    int n = 0;
    const double* v_old = nullptr;    // [n] values at the proximal step (the clip anchor)
    const double* returns = nullptr;  // [n] GAE returns (value targets)
    const float* weight = nullptr;    // [n] aggregation weights, as for the policy loss
};

struct ValueLossSums {
    double loss = 0;  // sum of weight * 0.5 * max(...)
    long clipped = 0;
    long tokens = 0;
};

class Critic {
   public:
    // `policy` is the trunk of a shared critic (it must outlive the critic) or the weights a separate
    // critic starts from (copied).
    // A separate trunk trains on `backend` (the policy's); the head is H + 1 floats on the host.
    Critic(const Model& policy, const CriticOptions& opt, const Backend& backend = cpu_backend());
    ~Critic();

    CriticKind kind() const { return opt_.kind; }
    int hidden() const { return hidden_; }
    std::vector<float>& head() { return head_; }
    // Separate critic only (null when shared).
    Model* trunk() { return trunk_.get(); }
    Transformer* engine() { return trunk_train_ ? &trunk_train_->engine() : nullptr; }
    AdamW* trunk_adam() { return trunk_train_ ? &trunk_train_->optimizer() : nullptr; }
    AdamW& head_adam() { return head_adam_; }
    // Gradients accumulated since zero_grads() (the trunk's: separate critic only, else empty).
    const std::vector<float>& head_grads() const { return head_grads_; }
    std::vector<float> trunk_grads() const {
        return trunk_train_ ? trunk_train_->grads_to_host() : std::vector<float>{};
    }

    // Values of the response tokens described by `slices` (v_old/returns/weight unused), from the
    // hidden rows of the forward that produced `hidden`; out receives sum(n) values in slice order.
    void values(const float* hidden, const std::vector<ValueSlice>& slices, double* out) const;

    // Clipped value loss of `slices` on `hidden`; accumulates scale * gradient into the head's
    // gradient buffer and, when g_hidden is not null, into g_hidden rows (the trunk's upstream).
    ValueLossSums value_loss(const float* hidden, const std::vector<ValueSlice>& slices, double clip,
                             double scale, float* g_hidden);

    // Separate critic: forward of its trunk without the LM head on `batch`, then value_loss and the
    // backward into the trunk's gradient buffer.
    ValueLossSums train_separate(const PackedBatch& batch, const ForwardOptions& fo,
                                 const std::vector<ValueSlice>& slices, double clip);

    void zero_grads();
    // One AdamW step of the critic's own parameters (head, and the separate trunk) after clipping
    // their joint gradient norm; returns the norm before clipping. A non-finite norm skips the step.
    float step(float lr, float grad_clip);
    // A separate trunk trained on a device: its weights into trunk()->data (before reading those).
    void weights_to_host() {
        if (trunk_train_) trunk_train_->weights_to_host();
    }

    // <dir>/value_head.safetensors (+ head optimizer), and for a separate critic <dir>/model/ and
    // <dir>/optimizer.safetensors. load() expects what save() wrote for the same kind and model.
    void save(const std::string& dir);
    void load(const std::string& dir);

   private:
    CriticOptions opt_;
    int hidden_;
    std::vector<float> head_, head_grads_;
    AdamW head_adam_;
    std::unique_ptr<Model> trunk_;
    std::unique_ptr<TrainableModel> trunk_train_;  // engine, gradients, AdamW of trunk_
    std::vector<float> g_hidden_;  // separate: upstream gradient of the trunk's final hidden rows
};

}  // namespace stride
