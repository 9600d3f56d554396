// Attention of new tokens over a paged KV cache (forward only; decode and chunked prefill).
// Each new token t belongs to one sequence and sits at position pos[t] of it; it attends to that
// sequence's cached keys/values at positions 0..pos[t] (causal), which the caller has already written
// into the cache (including the new tokens themselves). Query head h reads kv head h / (nq / nkv)
// (GQA, HF repeat_kv). Scale 1/sqrt(D), softmax in fp32.
//
// The cache is addressed like vLLM's: the keys of physical block b are
//   k_cache + b * block_stride : [block_size][nkv][D]   (same for v_cache)
// and block_tables[s * max_blocks + i] is the physical block holding positions
// [i * block_size, (i + 1) * block_size) of sequence s.
//
// Per (token, head) the softmax runs online one block at a time (flash-decoding arithmetic with
// lse-style rescaling), so no [T, context] score matrix is stored. Threaded over tokens; each task
// walks its sequence's cache blocks once, all heads of a key row together (see the .cpp).
// Tested against attention_forward (full recomputation) by tests/model/test_decoder.cpp.
#pragma once
#include <cstddef>
#include <cstdint>

namespace stride {

// Largest block_size the kernel supports (its per-block score buffer lives on the stack).
constexpr int kPagedAttentionMaxBlock = 256;

void paged_attention_forward(float* out,               // [T, nq, D]
                             const float* q,           // [T, nq, D]
                             const float* k_cache,     // block b at k_cache + b * block_stride
                             const float* v_cache,     // block b at v_cache + b * block_stride
                             size_t block_stride,      // floats between blocks
                             const int* block_tables,  // [n_seqs, max_blocks]
                             int max_blocks,           //
                             const int* token_seq,     // [T] row of block_tables
                             const int* token_pos,     // [T] position within the sequence
                             int T, int nq, int nkv, int D, int block_size);

// The same over a bf16 cache (KvDtype::bf16): keys and values are widened to fp32 as they are read.
void paged_attention_forward_bf16(float* out, const float* q, const uint16_t* k_cache,
                                  const uint16_t* v_cache, size_t block_stride, const int* block_tables,
                                  int max_blocks, const int* token_seq, const int* token_pos, int T, int nq,
                                  int nkv, int D, int block_size);

}  // namespace stride
