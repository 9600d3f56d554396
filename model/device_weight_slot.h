// Colocated roles (launcher: threads, trainer.device = rollout.device = cuda, one GPU): the hand-over
// of a new policy version from the trainer's device weights to a rollout worker's, device to device.
// The slot is one more device copy of the weights with its version, guarded by a mutex: the trainer
// puts each version in (one device-to-device copy, before it announces the version over the weight
// publisher), and a worker that learns of a newer version copies it from the slot straight into its
// Generator's device weights (one more), never through host memory. The copy in between is what
// lets the trainer step again while workers are still taking the previous version.
//
// Memory: the roles do not release anything between phases; the GPU holds, for P parameters, the
// trainer's 16 P bytes (fp32 weights, gradients, m, v) and activations, the slot's 4 P, each worker's
// 4 P and KV pool (rollout.kv_blocks). They are sized together by the config: an allocation that does
// not fit fails at start with the MiB free (Backend::alloc).
//
// The launcher owns the slot and hands it to both roles; tested on the CPU-staged backend by
// tests/model/test_backend_staging.cpp.
#pragma once
#include <cstdint>
#include <mutex>

#include "model/device_buffer.h"
#include "model/device_weights.h"

namespace stride {

class DeviceWeightSlot {
   public:
    // numel floats on `backend`'s device; holds no version until the first put.
    DeviceWeightSlot(const Backend& backend, size_t numel);

    // Copies numel floats from `device_weights` (on the same device) and makes them `version`.
    void put(int64_t version, const float* device_weights);
    // When the slot holds a version newer than `have`, copies it into `device_weights` and returns it;
    // else returns -1 and copies nothing.
    int64_t take_if_newer(int64_t have, float* device_weights);
    // As above, into a rollout engine's weights in whatever dtype they are stored (bf16: a cast on the
    // device; DeviceWeights::adopt_device_f32).
    int64_t take_if_newer(int64_t have, DeviceWeights& into);
    int64_t version() const;
    size_t numel() const { return numel_; }
    const Backend& backend() const { return *buf_.backend(); }

   private:
    mutable std::mutex mu_;
    size_t numel_;
    DeviceBuffer buf_;
    int64_t version_ = -1;
};

}  // namespace stride
