// Paged KV append on the GPU (vLLM's reshape_and_cache): writes the K/V rows of T new tokens into
// one layer of the paged cache through their slots. Contract: Backend::kv_append in model/backend.h.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace stride::cuda {

void kv_append(float* k_cache, float* v_cache, size_t block_stride, const float* k, const float* v,
               const int* slots, int T, int kv_row, int block_size, cudaStream_t stream);
// Rounds to bf16 (nearest even) with bf16_from_float, the CPU's rounding.
void kv_append_bf16(uint16_t* k_cache, uint16_t* v_cache, size_t block_stride, const float* k, const float* v,
                    const int* slots, int T, int kv_row, int block_size, cudaStream_t stream);

}  // namespace stride::cuda
