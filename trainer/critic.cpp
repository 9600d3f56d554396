#include "trainer/critic.h"

#include <cmath>
#include <filesystem>

#include "common/base/error.h"
#include "model/checkpoint.h"
#include "model/safetensors.h"
#include "trainer/gae.h"
#include "trainer/job_checkpoint.h"
#include "trainer/value_head.h"

namespace stride {

CriticKind critic_kind_from_name(const std::string& name) {
    if (name == "shared") return CriticKind::shared;
    if (name == "separate") return CriticKind::separate;
    throw Error("trainer.critic: expected shared or separate, got \"" + name + "\"");
}

const char* critic_kind_name(CriticKind k) {
    return k == CriticKind::shared ? "shared" : "separate";
}

Critic::Critic(const Model& policy, const CriticOptions& opt, const Backend& backend)
    : opt_(opt),
      hidden_(policy.config().hidden),
      head_(hidden_ + 1, 0.0f),
      head_grads_(hidden_ + 1, 0.0f),
      head_adam_(hidden_ + 1, opt.adam) {
    if (opt_.kind == CriticKind::separate) {
        trunk_ = std::make_unique<Model>(policy);
        trunk_train_ = std::make_unique<TrainableModel>(*trunk_, opt.adam, backend);
    }
}

Critic::~Critic() = default;

void Critic::values(const float* hidden, const std::vector<ValueSlice>& slices, double* out) const {
    std::vector<float> v;
    for (const ValueSlice& s : slices) {
        v.resize(s.n);
        if (s.n > 0)
            value_head_forward(head_.data(), hidden + static_cast<long>(s.start - 1) * hidden_, s.n, hidden_,
                               v.data());
        for (int k = 0; k < s.n; ++k) *out++ = v[k];
    }
}

ValueLossSums Critic::value_loss(const float* hidden, const std::vector<ValueSlice>& slices, double clip,
                                 double scale, float* g_hidden) {
    ValueLossSums sums;
    std::vector<double> v_new, v_old, ret;
    std::vector<float> w, d_v;
    for (const ValueSlice& s : slices) {
        if (s.n == 0) continue;
        STRIDE_CHECK(s.start >= 1, "critic: a response starts at the first position (empty prompt)");
        v_new.resize(s.n);
        values(hidden, {s}, v_new.data());
        v_old.assign(s.v_old, s.v_old + s.n);
        ret.assign(s.returns, s.returns + s.n);
        w.assign(s.weight, s.weight + s.n);
        const ValueLossResult r = clipped_value_loss(v_new, v_old, ret, w, clip);
        sums.loss += r.loss;
        sums.clipped += r.clipped;
        sums.tokens += s.n;
        d_v.resize(s.n);
        for (int k = 0; k < s.n; ++k) d_v[k] = static_cast<float>(scale * r.grad[k]);
        const long row0 = static_cast<long>(s.start - 1) * hidden_;
        value_head_backward(head_.data(), hidden + row0, d_v.data(), s.n, hidden_, head_grads_.data(),
                            g_hidden ? g_hidden + row0 : nullptr);
    }
    return sums;
}

ValueLossSums Critic::train_separate(const PackedBatch& batch, const ForwardOptions& fo,
                                     const std::vector<ValueSlice>& slices, double clip) {
    STRIDE_CHECK(trunk_train_ != nullptr, "critic: train_separate needs a separate critic");
    ForwardOptions trunk_only = fo;
    trunk_only.lm_head = false;
    Transformer& engine = trunk_train_->engine();
    engine.forward(batch, trunk_only);
    g_hidden_.assign(static_cast<size_t>(batch.num_tokens()) * hidden_, 0.0f);
    const ValueLossSums sums = value_loss(engine.final_hidden_host(), slices, clip, 1.0, g_hidden_.data());
    engine.backward({}, {}, trunk_train_->grads(), g_hidden_.data());
    return sums;
}

void Critic::zero_grads() {
    std::fill(head_grads_.begin(), head_grads_.end(), 0.0f);
    if (trunk_train_) trunk_train_->zero_grads();
}

float Critic::step(float lr, float grad_clip) {
    // Joint norm of head and trunk, as if they were one buffer.
    const double nh = grad_norm(head_grads_.data(), head_grads_.size());
    const double nt_sq = trunk_train_ ? trunk_train_->grad_norm_sq() : 0.0;
    const float norm = static_cast<float>(std::sqrt(nh * nh + nt_sq));
    if (!std::isfinite(norm)) return norm;
    if (grad_clip > 0) {
        const float factor = grad_clip / (norm + 1e-6f);  // as clip_grad_norm
        if (factor < 1.0f) {
            for (float& g : head_grads_) g *= factor;
            if (trunk_train_) trunk_train_->scale_grads(factor);
        }
    }
    head_adam_.step(head_.data(), head_grads_.data(), lr);
    if (trunk_train_) trunk_train_->step(lr);
    return norm;
}

void Critic::save(const std::string& dir) {
    std::filesystem::create_directories(dir);
    safetensors_write(dir + "/value_head.safetensors",
                      {{"value_head.weight", "F32", {1, hidden_}, head_.data(), nullptr},
                       {"value_head.bias", "F32", {1}, head_.data() + hidden_, nullptr}},
                      {{"format", "pt"}, {"critic", critic_kind_name(opt_.kind)}});
    save_optimizer(dir + "/value_head_optimizer.safetensors", head_adam_);
    if (trunk_) {
        trunk_train_->weights_to_host();
        checkpoint_save(*trunk_, dir + "/model", DiskDtype::f32);
        save_optimizer(dir + "/optimizer.safetensors", trunk_train_->optimizer());
    }
}

void Critic::load(const std::string& dir) {
    const std::string path = dir + "/value_head.safetensors";
    STRIDE_CHECK(std::filesystem::exists(path),
                 path + ": missing; the checkpoint has no critic (was it written by a ppo run?)");
    SafetensorsFile f(path);
    auto kind = f.metadata().find("critic");
    const std::string saved = kind == f.metadata().end() ? "?" : kind->second;
    STRIDE_CHECK(saved == critic_kind_name(opt_.kind),
                 "trainer.critic: " + std::string(critic_kind_name(opt_.kind)) + ", but " + dir +
                     " holds a " + saved + " critic; resume with the critic it was trained with");
    const SafetensorsTensor* w = f.find("value_head.weight");
    const SafetensorsTensor* b = f.find("value_head.bias");
    STRIDE_CHECK(
        w && b && w->numel == static_cast<uint64_t>(hidden_) && b->numel == 1,
        path + ": value_head.weight [1, " + std::to_string(hidden_) + "] and value_head.bias [1] expected");
    f.read_f32(*w, head_.data());
    f.read_f32(*b, head_.data() + hidden_);
    load_optimizer(dir + "/value_head_optimizer.safetensors", head_adam_);
    if (trunk_) {
        checkpoint_load_weights(*trunk_, dir + "/model");
        trunk_train_->weights_to_device();
        load_optimizer(dir + "/optimizer.safetensors", trunk_train_->optimizer());
    }
}

}  // namespace stride
