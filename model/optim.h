// Optimizer for the flat parameter buffer (llm.c style): AdamW with decoupled weight decay, global
// gradient-norm clipping and learning-rate schedules. The moments m and v are flat arrays with the
// same layout as the weights, so one update is one loop over one buffer using adamw_update from
// model/ops/math.h (the same element math a CUDA kernel runs). The state lives on a backend's device
// (fp32 m and v, one allocation) and the step is the backend's adamw_step entry, so the trainer on a
// GPU keeps its fp32 master weights, gradients and moments there; the host functions below are the
// same entries of cpu_backend().
//
// Tested against hand-computed values and torch.optim.AdamW numbers by tests/model/test_optim.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/device_buffer.h"

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
    // State for `numel` parameters (m = v = 0, step 0) on `backend`'s device.
    AdamW(size_t numel, const AdamWConfig& cfg = {}, const Backend& backend = cpu_backend());
    // Copies keep their own backend and take the other's config, step count and moments (across
    // devices too: a trainer moves a checkpoint's host optimizer onto the GPU and back this way).
    AdamW(const AdamW& o);
    AdamW& operator=(const AdamW& o);

    // One step: params -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * params), step += 1.
    // `lr` overrides the config's learning rate for this step (for schedules); negative = config's.
    // params and grads are numel() floats on the backend's device.
    void step(float* params, const float* grads, float lr = -1.0f);

    int64_t step_count() const { return step_; }
    size_t numel() const { return numel_; }
    const AdamWConfig& config() const { return cfg_; }
    const Backend& backend() const { return *state_.backend(); }
    // Host copies of the moments (same layout as the parameters), e.g. for checkpointing.
    std::vector<float> m() const;
    std::vector<float> v() const;
    // Replaces both moments from host arrays of numel() floats (a checkpoint being loaded).
    void set_moments(const float* m, const float* v);
    void set_step_count(int64_t s) { step_ = s; }

   private:
    float* m_dev() const { return state_.as<float>(); }
    float* v_dev() const { return state_.as<float>() + numel_; }
    std::vector<float> to_host(const float* dev) const;

    AdamWConfig cfg_;
    size_t numel_;
    DeviceBuffer state_;  // [2 * numel]: m, then v
    int64_t step_ = 0;
};

// Squared L2 norm of grads [n] on `backend`'s device: the backend's blocked sums (sum_squares) added
// in order on the host, so the CPU, a device and any thread count agree up to each block's order.
// `partials` (grown to kSumSquaresBlocks doubles on the device) may be given so that a step loop does
// not allocate.
double grad_norm_sq(const Backend& backend, const float* grads, size_t n, DeviceBuffer* partials = nullptr);
// L2 norm of the whole gradient buffer (host memory; accumulated in double).
float grad_norm(const float* grads, size_t n);
// Scales grads so that their global L2 norm is at most max_norm (torch clip_grad_norm_: factor
// max_norm / (norm + 1e-6), applied only when that is < 1). Returns the norm BEFORE clipping.
// max_norm <= 0 disables clipping (the norm is still returned). A non-finite norm is returned as is
// and the gradients are left untouched, so the caller can skip the step.
float clip_grad_norm(float* grads, size_t n, float max_norm);
// The same on `backend`'s device (grads [n] there); only the norm crosses to the host.
float clip_grad_norm(const Backend& backend, float* grads, size_t n, float max_norm,
                     DeviceBuffer* partials = nullptr);

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
