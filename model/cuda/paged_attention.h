// Decode attention on the GPU over the paged KV cache, split-K (flash-decoding): each (token, head)
// row is split into partitions of kPartition keys processed by separate warps in parallel, then the
// partial (O, m, l) are merged with log-sum-exp weights, so one 128k-token sequence still fills the
// GPU. Same contract as model/ops/paged_attention.h with device pointers; the partials live in the
// context's workspace.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace stride::cuda {

constexpr int kPartition = 256;  // keys per split

void paged_attention_forward(float* out, const float* q, const float* k_cache, const float* v_cache,
                             size_t block_stride, const int* block_tables, int max_blocks,
                             const int* token_seq, const int* token_pos, int T, int nq, int nkv, int D,
                             int block_size, cudaStream_t stream);
void paged_attention_forward_bf16(float* out, const float* q, const uint16_t* k_cache,
                                  const uint16_t* v_cache, size_t block_stride, const int* block_tables,
                                  int max_blocks, const int* token_seq, const int* token_pos, int T, int nq,
                                  int nkv, int D, int block_size, cudaStream_t stream);

}  // namespace stride::cuda
