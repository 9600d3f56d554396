// Optimizer for the flat parameter buffer (llm.c style): AdamW with decoupled weight decay, global
// gradient-norm clipping and learning-rate schedules. The moments m and v are flat arrays with the
// same layout as the weights, so one update is one loop over one buffer using adamw_update from
// model/ops/math.h (the same element math a CUDA kernel runs).
//
// Tested against hand-computed values and torch.optim.AdamW numbers by tests/model/test_optim.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace stride {

// Defaults follow the RL recipes in the spec (verl/DAPO actor: lr 1e-6, betas (0.9, 0.999),
// weight decay 0.01, grad clip 1.0); eps as torch.
struct AdamWConfig {
    float lr = 1e-6f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.01f;

    void validate() const;  // throws Error naming the bad field
};

class AdamW {
   public:
    // State for `numel` parameters (m = v = 0, step 0).
    AdamW(size_t numel, const AdamWConfig& cfg = {});

    // One step: params -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * params), step += 1.
    // `lr` overrides the config's learning rate for this step (for schedules); negative = config's.
    void step(float* params, const float* grads, float lr = -1.0f);

    int64_t step_count() const { return step_; }
    size_t numel() const { return m_.size(); }
    const AdamWConfig& config() const { return cfg_; }
    // Moments (same layout as the parameters), e.g. for checkpointing the optimizer.
    std::vector<float>& m() { return m_; }
    std::vector<float>& v() { return v_; }
    void set_step_count(int64_t s) { step_ = s; }

   private:
    AdamWConfig cfg_;
    std::vector<float> m_, v_;
    int64_t step_ = 0;
};

// L2 norm of the whole gradient buffer (accumulated in double).
float grad_norm(const float* grads, size_t n);
// Scales grads so that their global L2 norm is at most max_norm (torch clip_grad_norm_: factor
// max_norm / (norm + 1e-6), applied only when that is < 1). Returns the norm BEFORE clipping.
// max_norm <= 0 disables clipping (the norm is still returned). A non-finite norm is returned as is
// and the gradients are left untouched, so the caller can skip the step.
float clip_grad_norm(float* grads, size_t n, float max_norm);

// ---- learning-rate schedules ----------------------------------------------------------------------
enum class LrScheduleType { constant, linear_warmup, cosine };

LrScheduleType lr_schedule_from_name(const std::string& name);  // "constant" | "linear_warmup" | "cosine"

struct LrSchedule {
    LrScheduleType type = LrScheduleType::constant;
    float base_lr = 1e-6f;
    int warmup_steps = 0;  // linear ramp from base_lr / warmup_steps at step 0 to base_lr at warmup_steps
    int total_steps = 0;   // cosine: decay ends here (then stays at min_lr)
    float min_lr = 0.0f;   // cosine floor

    // Learning rate for 0-based optimizer step `step`.
    //   constant:       base_lr (warm-up still applies when warmup_steps > 0)
    //   linear_warmup:  base_lr * min(1, (step + 1) / warmup_steps), then constant
    //   cosine:         warm-up as above, then min_lr + (base_lr - min_lr) * 0.5 * (1 + cos(pi * p)),
    //                   p = (step - warmup_steps) / (total_steps - warmup_steps) clamped to [0, 1]
    float lr_at(int64_t step) const;
    void validate() const;
};

}  // namespace stride
