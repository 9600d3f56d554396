// The weights a backend computes with. On the CPU backend these are the Model's own buffer (no copy,
// so overwriting model.data takes effect at the next call, as before). On a device backend they are
// one allocation with the Model's layout, filled by upload(): adopting a new policy version is one
// host-to-device copy into the same buffer, never a re-allocation.
#pragma once
#include "model/device_buffer.h"
#include "model/params.h"

namespace stride {

class DeviceWeights {
   public:
    // On a device backend allocates and uploads once.
    DeviceWeights(const Model& model, const Backend& backend);

    // Copies model.data to the device again (a weight update). No-op on the CPU backend.
    void upload();
    // Views with the Model's layout, on the backend's device.
    const ModelWeights& views() const { return views_; }
    const float* base() const { return base_; }
    // The device allocation, writable (a trainer's optimizer steps it in place); null on the CPU.
    float* device_data() { return buf_.as<float>(); }
    const Backend& backend() const { return be_; }
    const Model& model() const { return model_; }

   private:
    const Model& model_;
    const Backend& be_;
    DeviceBuffer buf_;  // empty on the CPU backend
    const float* base_ = nullptr;
    ModelWeights views_;
};

}  // namespace stride
