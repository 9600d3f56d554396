#include "model/device_weight_slot.h"

#include <string>

#include "common/base/error.h"

namespace stride {

DeviceWeightSlot::DeviceWeightSlot(const Backend& backend, size_t numel)
    : numel_(numel), buf_(backend, numel * sizeof(float)) {}

void DeviceWeightSlot::put(int64_t version, const float* device_weights) {
    std::lock_guard<std::mutex> lock(mu_);
    backend().copy(buf_.get(), device_weights, numel_ * sizeof(float));
    backend().sync();  // complete before a worker may read it
    version_ = version;
}

int64_t DeviceWeightSlot::take_if_newer(int64_t have, float* device_weights) {
    std::lock_guard<std::mutex> lock(mu_);
    if (version_ <= have) return -1;
    backend().copy(device_weights, buf_.get(), numel_ * sizeof(float));
    backend().sync();  // the trainer may overwrite the slot once the lock is released
    return version_;
}

int64_t DeviceWeightSlot::take_if_newer(int64_t have, DeviceWeights& into) {
    std::lock_guard<std::mutex> lock(mu_);
    if (version_ <= have) return -1;
    STRIDE_CHECK(into.model().data.size() == numel_,
                 "DeviceWeightSlot: the slot holds " + std::to_string(numel_) +
                     " parameters but the engine has " + std::to_string(into.model().data.size()));
    into.adopt_device_f32(buf_.as<float>());  // waits for the copy: the trainer may overwrite the slot
    return version_;
}

int64_t DeviceWeightSlot::version() const {
    std::lock_guard<std::mutex> lock(mu_);
    return version_;
}

}  // namespace stride
