// How many KV blocks a rollout engine on a GPU gets: what the device has left after what is already in
// use (other processes, a colocated trainer), the weights and the activations still to come, within
// a fraction of the device (rollout.kv_memory_fraction, like vLLM's gpu_memory_utilization). Plain
// arithmetic on given numbers, so it is tested on the CPU (tests/model/test_kv_budget.cpp); the
// Generator feeds it Backend::memory_info (cudaMemGetInfo) when rollout.kv_blocks is 0.
#pragma once
#include <cstddef>

#include "model/config.h"
#include "model/device_weights.h"
#include "model/kv_cache.h"

namespace stride {

struct KvBudget {
    size_t free_bytes = 0;        // free device memory now
    size_t total_bytes = 0;       // device memory in all
    double fraction = 0.9;        // of total_bytes the whole process may end up using, in (0, 1]
    size_t weight_bytes = 0;      // weights not yet allocated
    size_t activation_bytes = 0;  // activation arena and scratch not yet allocated
    size_t block_bytes = 0;       // one KV block over all layers, K and V
    int min_blocks = 1;           // what the longest sequence needs: fewer is an Error
};

// floor((fraction * total - (total - free) - weights - activations) / block_bytes), at most INT_MAX.
// Throws Error, with every number in MiB and the keys to change, when that is below min_blocks.
int kv_blocks_for_budget(const KvBudget& b);

// Bytes of one KV block of `block_size` tokens over all layers (K and V).
size_t kv_block_bytes(const ModelConfig& cfg, int block_size, KvDtype dtype);
// Bytes DeviceWeights allocates for this model in `dtype`.
size_t device_weight_bytes(const ParamLayout& layout, WeightDtype dtype);
// An upper bound of the decoder's activation arena and per-step scratch for batches of up to
// max_tokens tokens from max_seqs sequences (model/decoder.cpp's views, the bf16 input copy of a
// projection, sampling tables), plus a fixed margin for cuBLAS's own workspace.
size_t decoder_activation_bytes(const ModelConfig& cfg, int max_tokens, int max_seqs);

}  // namespace stride
