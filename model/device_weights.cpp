#include "model/device_weights.h"

namespace stride {

DeviceWeights::DeviceWeights(const Model& model, const Backend& backend) : model_(model), be_(backend) {
    if (be_.host_memory) {
        base_ = model.data.data();
        views_ = model.w;
        return;
    }
    buf_.set_backend(be_);
    buf_.grow(model.data.size() * sizeof(float));
    base_ = buf_.as<float>();
    views_ = model.layout.views(buf_.as<float>());
    upload();
}

void DeviceWeights::upload() {
    if (be_.host_memory) return;
    be_.copy(buf_.get(), model_.data.data(), model_.data.size() * sizeof(float));
    be_.sync();  // the host buffer may change right after this returns
}

}  // namespace stride
