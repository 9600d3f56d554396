#include "model/trainable_model.h"

#include <string>

#include "common/base/error.h"

namespace stride {

namespace {

const Backend& checked(const Backend& be) {
    STRIDE_CHECK(Transformer::can_train(be), std::string("training on the ") + be.name +
                                                 " backend: it lacks a backward or optimizer kernel; "
                                                 "train with trainer.device=cpu");
    return be;
}

}  // namespace

TrainableModel::TrainableModel(Model& model, const AdamWConfig& adam, const Backend& backend)
    : model_(model),
      be_(checked(backend)),
      engine_(model, backend),
      adam_(model.data.size(), adam, backend),
      grads_(backend, model.data.size() * sizeof(float)) {
    grads_.zero();
}

std::vector<float> TrainableModel::grads_to_host() const {
    std::vector<float> out(numel());
    be_.copy(out.data(), grads_.get(), numel() * sizeof(float));
    be_.sync();
    return out;
}

void TrainableModel::step(float lr) {
    float* weights = be_.host_memory ? model_.data.data() : engine_.device_weights();
    adam_.step(weights, grads_.as<float>(), lr);
}

void TrainableModel::weights_to_host() {
    if (be_.host_memory) return;
    be_.copy(model_.data.data(), engine_.device_weights(), numel() * sizeof(float));
    be_.sync();
}

}  // namespace stride
