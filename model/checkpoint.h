// HF checkpoints: DIR/config.json + DIR/model.safetensors, or sharded
// DIR/model-0000i-of-0000n.safetensors + DIR/model.safetensors.index.json. Tensors keep HF names.
// On disk F32, BF16 or F16; in memory always F32 (the Model's flat buffer).
#pragma once
#include <cstddef>
#include <string>

#include "model/params.h"

namespace stride {

enum class DiskDtype { f32, bf16, f16 };

DiskDtype disk_dtype_from_name(const std::string& name);  // "f32"|"float32"|"bf16"|"bfloat16"|"f16"|"float16"

// Loads config.json and all weights. Errors name the file and the tensor (missing, unexpected, wrong
// shape or dtype, corrupt header). A tied model's stray lm_head.weight is ignored with a warning.
Model checkpoint_load(const std::string& dir);

// Loads weights into an existing model of the same config (weight sync from disk, resume).
void checkpoint_load_weights(Model& m, const std::string& dir);

// Writes config.json (torch_dtype set from dtype) and the weights. max_shard_bytes == 0 or larger
// than the model: one model.safetensors; otherwise shards plus model.safetensors.index.json.
void checkpoint_save(const Model& m, const std::string& dir, DiskDtype dtype, size_t max_shard_bytes = 0);

}  // namespace stride
