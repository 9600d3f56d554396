#include "model/kv_budget.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <string>

#include "common/base/error.h"

namespace stride {

namespace {

std::string mib(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / (1 << 20));
    return buf;
}

// cuBLAS's workspace and other scratch that is not ours to count exactly.
constexpr size_t kScratchMargin = size_t(64) << 20;

}  // namespace

int kv_blocks_for_budget(const KvBudget& b) {
    STRIDE_CHECK(b.fraction > 0.0 && b.fraction <= 1.0,
                 "rollout.kv_memory_fraction must be in (0, 1], got " + std::to_string(b.fraction));
    STRIDE_CHECK(b.block_bytes > 0, "KV budget: a KV block of 0 bytes");
    STRIDE_CHECK(b.free_bytes <= b.total_bytes, "KV budget: more memory free than the device has");
    const double in_use = static_cast<double>(b.total_bytes - b.free_bytes);
    const double allowed = b.fraction * static_cast<double>(b.total_bytes);
    const double left =
        allowed - in_use - static_cast<double>(b.weight_bytes) - static_cast<double>(b.activation_bytes);
    const double blocks = left <= 0 ? 0.0 : left / static_cast<double>(b.block_bytes);
    if (blocks < b.min_blocks) {
        throw Error(
            "KV cache does not fit on the GPU: rollout.kv_memory_fraction = " + std::to_string(b.fraction) +
            " of " + mib(b.total_bytes) + " allows " + mib(allowed) + "; " + mib(in_use) +
            " are already in use, the weights take " + mib(b.weight_bytes) + " and activations " +
            mib(b.activation_bytes) + ", leaving " + mib(std::max(0.0, left)) + " for " +
            std::to_string(static_cast<long long>(blocks)) + " KV blocks, but the longest sequence needs " +
            std::to_string(b.min_blocks) + " (" + mib(static_cast<double>(b.min_blocks) * b.block_bytes) +
            "). Raise rollout.kv_memory_fraction, lower rollout.max_tokens or rollout.max_batch_seqs, use "
            "rollout.kv_dtype: bf16, or free GPU memory");
    }
    return blocks >= static_cast<double>(INT_MAX) ? INT_MAX : static_cast<int>(blocks);
}

size_t kv_block_bytes(const ModelConfig& cfg, int block_size, KvDtype dtype) {
    return static_cast<size_t>(cfg.layers) * 2 * block_size * cfg.kv_heads * cfg.head_dim *
           kv_dtype_bytes(dtype);
}

size_t device_weight_bytes(const ParamLayout& layout, WeightDtype dtype) {
    if (dtype == WeightDtype::fp32) return layout.numel() * sizeof(float);
    size_t halves = 0, floats = 0;
    for (const ParamSpec& s : layout.specs()) (s.shape.size() >= 2 ? halves : floats) += s.numel;
    return (halves * 2 + 63) / 64 * 64 + floats * 4;
}

size_t decoder_activation_bytes(const ModelConfig& cfg, int max_tokens, int max_seqs) {
    const size_t T = max_tokens, n = max_seqs;
    const size_t H = cfg.hidden, Hq = cfg.q_dim(), Hkv = cfg.kv_dim(), I = cfg.intermediate, V = cfg.vocab;
    // Each view is rounded up to 16 floats in the arena: one extra row of 16 per view covers it.
    const size_t arena = T * (3 * H + 3 * Hq + 3 * Hkv + 3 * I) + n * (H + V) + 16 * 16;
    const size_t ints = 5 * T + n * (1 + static_cast<size_t>(cfg.max_position / 16 + 1));
    const size_t bf16_input = T * std::max({H, Hq, I}) * 2;  // rounded input of a bf16 projection
    return arena * 4 + ints * 4 + bf16_input + kScratchMargin;
}

}  // namespace stride
