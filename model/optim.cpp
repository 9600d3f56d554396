#include "model/optim.h"

#include <cmath>

#include "common/base/error.h"
#include "model/ops/math.h"

namespace stride {

void AdamWConfig::validate() const {
    STRIDE_CHECK(lr >= 0.0f, "adamw: lr must be >= 0, got " + std::to_string(lr));
    STRIDE_CHECK(beta1 >= 0.0f && beta1 < 1.0f,
                 "adamw: beta1 must be in [0, 1), got " + std::to_string(beta1));
    STRIDE_CHECK(beta2 >= 0.0f && beta2 < 1.0f,
                 "adamw: beta2 must be in [0, 1), got " + std::to_string(beta2));
    STRIDE_CHECK(eps > 0.0f, "adamw: eps must be > 0, got " + std::to_string(eps));
    STRIDE_CHECK(weight_decay >= 0.0f,
                 "adamw: weight_decay must be >= 0, got " + std::to_string(weight_decay));
}

AdamW::AdamW(size_t numel, const AdamWConfig& cfg) : cfg_(cfg), m_(numel, 0.0f), v_(numel, 0.0f) {
    cfg_.validate();
}

void AdamW::step(float* params, const float* grads, float lr) {
    if (lr < 0.0f) lr = cfg_.lr;
    ++step_;
    // Bias corrections in double: beta2^t for large t loses precision in float.
    const float bc1 =
        static_cast<float>(1.0 - std::pow(static_cast<double>(cfg_.beta1), static_cast<double>(step_)));
    const float bc2 =
        static_cast<float>(1.0 - std::pow(static_cast<double>(cfg_.beta2), static_cast<double>(step_)));
    const float b1 = cfg_.beta1, b2 = cfg_.beta2, eps = cfg_.eps, wd = cfg_.weight_decay;
    float* m = m_.data();
    float* v = v_.data();
    const long long n = static_cast<long long>(m_.size());
#pragma omp parallel for simd schedule(static)
    for (long long i = 0; i < n; ++i)
        adamw_update(params[i], grads[i], m[i], v[i], lr, b1, b2, eps, wd, bc1, bc2);
}

float grad_norm(const float* grads, size_t n) {
    double sum = 0.0;
    const long long N = static_cast<long long>(n);
#pragma omp parallel for simd reduction(+ : sum) schedule(static)
    for (long long i = 0; i < N; ++i) sum += static_cast<double>(grads[i]) * grads[i];
    return static_cast<float>(std::sqrt(sum));
}

float clip_grad_norm(float* grads, size_t n, float max_norm) {
    float norm = grad_norm(grads, n);
    if (max_norm <= 0.0f || !std::isfinite(norm)) return norm;
    float factor = max_norm / (norm + 1e-6f);
    if (factor < 1.0f) {
        const long long N = static_cast<long long>(n);
#pragma omp parallel for simd schedule(static)
        for (long long i = 0; i < N; ++i) grads[i] *= factor;
    }
    return norm;
}

LrScheduleType lr_schedule_from_name(const std::string& name) {
    if (name == "constant") return LrScheduleType::constant;
    if (name == "linear_warmup" || name == "linear-warmup" || name == "warmup")
        return LrScheduleType::linear_warmup;
    if (name == "cosine") return LrScheduleType::cosine;
    throw Error("unknown lr schedule '" + name + "' (expected constant, linear_warmup or cosine)");
}

void LrSchedule::validate() const {
    STRIDE_CHECK(base_lr >= 0.0f, "lr schedule: base_lr must be >= 0");
    STRIDE_CHECK(warmup_steps >= 0, "lr schedule: warmup_steps must be >= 0");
    STRIDE_CHECK(min_lr >= 0.0f && min_lr <= base_lr, "lr schedule: min_lr must be in [0, base_lr]");
    if (type == LrScheduleType::cosine)
        STRIDE_CHECK(total_steps > warmup_steps,
                     "lr schedule: cosine needs total_steps > warmup_steps (got " +
                         std::to_string(total_steps) + " <= " + std::to_string(warmup_steps) + ")");
}

float LrSchedule::lr_at(int64_t step) const {
    if (warmup_steps > 0 && step < warmup_steps)
        return base_lr * static_cast<float>(static_cast<double>(step + 1) / warmup_steps);
    if (type != LrScheduleType::cosine) return base_lr;
    double p = static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps);
    p = p < 0.0 ? 0.0 : (p > 1.0 ? 1.0 : p);
    return min_lr + (base_lr - min_lr) * static_cast<float>(0.5 * (1.0 + std::cos(M_PI * p)));
}

}  // namespace stride
