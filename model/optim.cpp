#include "model/optim.h"

#include <cmath>

#include "common/base/error.h"
#include "model/ops/optimizer.h"

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

AdamW::AdamW(size_t numel, const AdamWConfig& cfg, const Backend& backend)
    : cfg_(cfg), numel_(numel), state_(backend, 2 * numel * sizeof(float)) {
    cfg_.validate();
    state_.zero();
}

AdamW::AdamW(const AdamW& o)
    : cfg_(o.cfg_), numel_(o.numel_), state_(o.backend(), 2 * o.numel_ * sizeof(float)) {
    *this = o;
}

AdamW& AdamW::operator=(const AdamW& o) {
    if (this == &o) return *this;
    STRIDE_CHECK(o.numel_ == numel_, "adamw: cannot take the state of " + std::to_string(o.numel_) +
                                         " parameters into an optimizer of " + std::to_string(numel_));
    cfg_ = o.cfg_;
    step_ = o.step_;
    // A device's copy reads and writes host memory too (cudaMemcpyDefault); the CPU's only host memory.
    const Backend& mover = backend().host_memory ? o.backend() : backend();
    mover.copy(state_.get(), o.state_.get(), 2 * numel_ * sizeof(float));
    mover.sync();
    return *this;
}

void AdamW::step(float* params, const float* grads, float lr) {
    if (lr < 0.0f) lr = cfg_.lr;
    ++step_;
    // Bias corrections in double: beta2^t for large t loses precision in float.
    const float bc1 =
        static_cast<float>(1.0 - std::pow(static_cast<double>(cfg_.beta1), static_cast<double>(step_)));
    const float bc2 =
        static_cast<float>(1.0 - std::pow(static_cast<double>(cfg_.beta2), static_cast<double>(step_)));
    const AdamWStep s{lr, cfg_.beta1, cfg_.beta2, cfg_.eps, cfg_.weight_decay, bc1, bc2};
    backend().adamw_step(params, grads, m_dev(), v_dev(), numel_, s);
}

std::vector<float> AdamW::to_host(const float* dev) const {
    std::vector<float> out(numel_);
    backend().copy(out.data(), dev, numel_ * sizeof(float));
    backend().sync();
    return out;
}

std::vector<float> AdamW::m() const {
    return to_host(m_dev());
}
std::vector<float> AdamW::v() const {
    return to_host(v_dev());
}

void AdamW::set_moments(const float* m, const float* v) {
    backend().copy(m_dev(), m, numel_ * sizeof(float));
    backend().copy(v_dev(), v, numel_ * sizeof(float));
    backend().sync();
}

double grad_norm_sq(const Backend& backend, const float* grads, size_t n, DeviceBuffer* dev_partials) {
    double partials[kSumSquaresBlocks];
    if (backend.host_memory) {
        backend.sum_squares(partials, grads, n);
    } else {
        DeviceBuffer own;
        DeviceBuffer& dev = dev_partials ? *dev_partials : own;
        dev.set_backend(backend);
        dev.grow(sizeof(partials));
        backend.sum_squares(dev.as<double>(), grads, n);
        backend.copy(partials, dev.get(), sizeof(partials));
        backend.sync();
    }
    double sum = 0.0;
    for (double p : partials) sum += p;
    return sum;
}

float grad_norm(const float* grads, size_t n) {
    return static_cast<float>(std::sqrt(grad_norm_sq(cpu_backend(), grads, n)));
}

float clip_grad_norm(const Backend& backend, float* grads, size_t n, float max_norm, DeviceBuffer* partials) {
    const float norm = static_cast<float>(std::sqrt(grad_norm_sq(backend, grads, n, partials)));
    if (max_norm <= 0.0f || !std::isfinite(norm)) return norm;
    const float factor = max_norm / (norm + 1e-6f);
    if (factor < 1.0f) backend.scale(grads, factor, n);
    return norm;
}

float clip_grad_norm(float* grads, size_t n, float max_norm) {
    return clip_grad_norm(cpu_backend(), grads, n, max_norm);
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
