// The weights a backend computes with, in fp32 or bf16 (rollout.dtype).
//
// fp32: on the CPU backend these are the Model's own buffer (no copy, so overwriting model.data takes
// effect at the next call, as before). On a device backend they are one allocation with the Model's
// layout, filled by upload(): adopting a new policy version is one host-to-device copy into the same
// buffer, never a re-allocation. The trainer's engine always uses fp32 (its optimizer steps it).
//
// bf16 (rollout engines on a GPU): one allocation holding every matrix (embedding, projections, LM
// head) in bf16 and the vectors (norm weights, biases) in fp32 after them; projections then run with
// bf16 inputs and fp32 accumulation (Backend::matmul_forward_bf16). upload() converts model.data on
// the host through a bounded staging buffer (model/weight_staging.h); load_checkpoint() reads
// safetensors (F32, BF16, F16) straight into the allocation through the same buffer, with no full
// host copy of the model; adopt_device_f32() takes a colocated trainer's fp32 device weights
// (DeviceWeightSlot) with a cast on the device. Tested on the CPU-staged backend by
// tests/model/test_device_weights.cpp.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/device_buffer.h"
#include "model/params.h"
#include "model/weight_staging.h"

namespace stride {

enum class WeightDtype { fp32, bf16 };
// "fp32" | "bf16"; anything else is an Error naming the value.
WeightDtype parse_weight_dtype(const std::string& name);
const char* weight_dtype_name(WeightDtype d);

// The bf16 matrices of a model (null where the architecture has none; lm_head == embed when tied).
struct LayerMatricesBf16 {
    const uint16_t *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down;
};
struct ModelMatricesBf16 {
    const uint16_t* embed = nullptr;  // [V, H]
    std::vector<LayerMatricesBf16> layers;
    const uint16_t* lm_head = nullptr;  // [V, H]
};

// Host staging used by upload() and load_checkpoint() in bf16 mode.
constexpr size_t kWeightStagingBytes = size_t(64) << 20;

class DeviceWeights {
   public:
    // Allocates (on a device, or in bf16 mode) and uploads model.data once.
    DeviceWeights(const Model& model, const Backend& backend, WeightDtype dtype = WeightDtype::fp32,
                  size_t staging_bytes = kWeightStagingBytes);

    // Copies model.data to the device again (a weight update). No-op in fp32 mode on the CPU backend.
    void upload();
    // Reads the checkpoint at `dir` (config must match the model's) straight into this allocation,
    // converting each tensor to the stored dtype through the staging buffer. model.data is untouched.
    void load_checkpoint(const std::string& dir);
    // Takes numel fp32 weights with the Model's layout from the same device (a colocated trainer's
    // DeviceWeightSlot): one device copy in fp32 mode, a cast into bf16 in bf16 mode. Only when
    // has_own_copy().
    void adopt_device_f32(const float* src);

    WeightDtype dtype() const { return dtype_; }
    // Views with the Model's layout, on the backend's device. In bf16 mode the matrix fields are null
    // (read them from bf16()) and the vector fields point at the fp32 copies.
    const ModelWeights& views() const { return views_; }
    const ModelMatricesBf16& bf16() const { return bf16_; }
    const float* base() const { return base_; }
    // The fp32 device allocation, writable (a trainer's optimizer steps it in place); null on the CPU
    // and in bf16 mode.
    float* device_data() { return dtype_ == WeightDtype::fp32 ? buf_.as<float>() : nullptr; }
    // Whether the weights are an allocation of their own (a device, or bf16), not model.data itself.
    bool has_own_copy() const { return buf_.get() != nullptr; }
    size_t bytes() const { return buf_.bytes(); }
    const Backend& backend() const { return be_; }
    const Model& model() const { return model_; }
    // Staging buffer-fulls waited for so far (0 when nothing was staged).
    size_t staging_flushes() const { return staging_ ? staging_->flushes() : 0; }

   private:
    // Where spec i lives in bf16 mode: in the bf16 matrices or the fp32 vectors, at an element offset.
    struct Place {
        bool half;
        size_t offset;
    };
    void lay_out_bf16();
    WeightStaging& staging();
    void* spec_dst(size_t i) const;

    const Model& model_;
    const Backend& be_;
    WeightDtype dtype_;
    size_t staging_bytes_;
    DeviceBuffer buf_;  // empty in fp32 mode on the CPU backend
    const float* base_ = nullptr;
    ModelWeights views_;
    ModelMatricesBf16 bf16_;
    std::vector<Place> place_;  // per spec, bf16 mode only
    uint16_t* halves_ = nullptr;
    float* floats_ = nullptr;
    std::unique_ptr<WeightStaging> staging_;
};

}  // namespace stride
