// HF checkpoints: DIR/config.json + DIR/model.safetensors, or sharded
// DIR/model-0000i-of-0000n.safetensors + DIR/model.safetensors.index.json. Tensors keep HF names.
// On disk F32, BF16 or F16; in memory always F32 (the Model's flat buffer).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "model/params.h"
#include "model/safetensors.h"

namespace stride {

enum class DiskDtype { f32, bf16, f16 };

DiskDtype disk_dtype_from_name(const std::string& name);  // "f32"|"float32"|"bf16"|"bfloat16"|"f16"|"float16"

// Loads config.json and all weights. Errors name the file and the tensor (missing, unexpected, wrong
// shape or dtype, corrupt header). A tied model's stray lm_head.weight is ignored with a warning.
Model checkpoint_load(const std::string& dir);

// Loads weights into an existing model of the same config (weight sync from disk, resume).
void checkpoint_load_weights(Model& m, const std::string& dir);

// Visits every weight of the checkpoint at `dir`, checked as checkpoint_load_weights checks it (same
// architecture as `layout`, every tensor present with its shape, F32/BF16/F16), with its index in
// layout.specs(), its safetensors entry (dtype) and its raw bytes, mapped from the file (nothing is
// copied: a caller streams them where they go, e.g. straight to a device; model/device_weights.h).
using CheckpointTensorFn =
    std::function<void(size_t spec, const SafetensorsTensor& tensor, const uint8_t* bytes)>;
void checkpoint_for_each_tensor(const std::string& dir, const ParamLayout& layout,
                                const CheckpointTensorFn& fn);

// Writes config.json (torch_dtype set from dtype) and the weights. max_shard_bytes == 0 or larger
// than the model: one model.safetensors; otherwise shards plus model.safetensors.index.json.
void checkpoint_save(const Model& m, const std::string& dir, DiskDtype dtype, size_t max_shard_bytes = 0);

}  // namespace stride
