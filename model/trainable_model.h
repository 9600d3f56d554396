// A model being trained on a backend (llm.c's layout): the engine, one gradient buffer and the AdamW
// moments, each one flat allocation with the weights' layout on the backend's device. On a device the
// engine's copy of the weights is the fp32 master copy the optimizer steps in place; model.data (what
// checkpoints and weight publication read) is refreshed from it by weights_to_host(). On the CPU the
// weights are model.data itself and weights_to_host() does nothing.
//
// Tested against the CPU step on the CPU-staged backend (tests/model/test_backend_staging.cpp) and on
// a GPU (tests/model/test_gpu_model.cpp).
#pragma once
#include "model/device_buffer.h"
#include "model/optim.h"
#include "model/params.h"
#include "model/transformer.h"

namespace stride {

class TrainableModel {
   public:
    // Throws Error naming the backend when it lacks an entry training needs (Transformer::can_train).
    TrainableModel(Model& model, const AdamWConfig& adam, const Backend& backend = cpu_backend());

    Model& model() { return model_; }
    Transformer& engine() { return engine_; }
    AdamW& optimizer() { return adam_; }
    const AdamW& optimizer() const { return adam_; }
    const Backend& backend() const { return be_; }

    // The gradient buffer (numel floats on the device) that engine().backward accumulates into.
    float* grads() { return grads_.as<float>(); }
    size_t numel() const { return model_.data.size(); }
    void zero_grads() { grads_.zero(); }
    // Host copy of the gradients (tests, diagnostics).
    std::vector<float> grads_to_host() const;
    double grad_norm_sq() { return stride::grad_norm_sq(be_, grads_.as<float>(), numel(), &partials_); }
    void scale_grads(float factor) { be_.scale(grads_.as<float>(), factor, numel()); }
    // clip_grad_norm on the device: returns the norm before clipping.
    float clip_grads(float max_norm) {
        return clip_grad_norm(be_, grads_.as<float>(), numel(), max_norm, &partials_);
    }

    // One AdamW step of the weights at `lr` from the gradient buffer (on the device's master copy).
    void step(float lr);
    // model.data = the device's weights (after steps, before a checkpoint or a publication).
    void weights_to_host();
    // The device's weights = model.data (after model.data was overwritten, e.g. by a checkpoint load).
    void weights_to_device() { engine_.weights_changed(); }

   private:
    Model& model_;
    const Backend& be_;
    Transformer engine_;
    AdamW adam_;
    DeviceBuffer grads_;
    DeviceBuffer partials_;  // the grad norm's per-block sums (no allocation per step)
};

}  // namespace stride
