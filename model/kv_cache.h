// Paged KV cache (vLLM PagedAttention style): one pool of fixed-size blocks of `block_size` tokens,
// a free list, a block table per sequence, and reference counts so that sequences can share blocks
// (a GRPO group of n samples shares its prompt's blocks; the last, partially filled block is copied on
// the first write into it). Sequences of very different lengths share the pool without copying.
//
// Memory is allocated once, in the constructor, by the backend that will read it (one allocation):
//   pool [num_blocks][layers][2 (k|v)][block_size][kv_heads][head_dim]   (fp32, or bf16: KvDtype)
// A bf16 pool holds twice the tokens in the same memory and halves what a decode step reads (at long
// contexts decoding on the CPU is bound by reading the cache); the model computes in fp32 either way.
// Block-major layout keeps a whole block (all layers, K and V) contiguous, so copy-on-write is one
// memcpy, and within a block one layer's K rows for consecutive tokens are contiguous.
//
// Token position p of a sequence lives in physical block table[p / block_size] at offset
// p % block_size; its "slot" is block * block_size + offset (vLLM's slot_mapping).
//
// Tested by tests/model/test_kv_cache.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/device_buffer.h"

namespace stride {

enum class KvDtype { fp32, bf16 };
size_t kv_dtype_bytes(KvDtype dtype);
// "fp32" / "bf16"; parse throws Error naming the value for anything else.
const char* kv_dtype_name(KvDtype dtype);
KvDtype parse_kv_dtype(const std::string& name);

class KvCache {
   public:
    // Allocates the pool on `backend`'s device, zeroed. Throws Error for non-positive sizes. The
    // bookkeeping (block tables, free list, reference counts) stays on the host.
    KvCache(const ModelConfig& cfg, int num_blocks, int block_size = 16, KvDtype dtype = KvDtype::fp32,
            const Backend& backend = cpu_backend());
    KvCache(const KvCache&) = delete;
    KvCache& operator=(const KvCache&) = delete;

    // Number of blocks that fit in `bytes` of memory for this model shape (at least 0).
    static int blocks_for_bytes(const ModelConfig& cfg, size_t bytes, int block_size = 16,
                                KvDtype dtype = KvDtype::fp32);

    int block_size() const { return block_size_; }
    int layers() const { return layers_; }
    int kv_heads() const { return kv_heads_; }
    int head_dim() const { return head_dim_; }
    int blocks_total() const { return num_blocks_; }
    int blocks_used() const { return num_blocks_ - static_cast<int>(free_blocks_.size()); }
    int blocks_free() const { return static_cast<int>(free_blocks_.size()); }
    KvDtype dtype() const { return dtype_; }
    size_t pool_bytes() const { return pool_.bytes(); }
    const Backend& backend() const { return *pool_.backend(); }

    // Blocks needed to hold `tokens` tokens from scratch.
    int blocks_for_tokens(int tokens) const { return (tokens + block_size_ - 1) / block_size_; }
    // Admission budget check: could a new sequence of `tokens` tokens get its blocks now?
    bool can_allocate(int tokens) const { return blocks_for_tokens(tokens) <= blocks_free(); }

    // ---- sequences -------------------------------------------------------------------------------
    // A new empty sequence; returns its id (ids of freed sequences are reused).
    int seq_create();
    // A new sequence sharing all of `parent`'s blocks (reference counts + 1). Both may grow afterwards;
    // whichever writes first into a shared partial block gets a private copy of it.
    int seq_fork(int parent);
    // Releases the sequence's blocks (a block returns to the free list when no sequence holds it).
    void seq_free(int seq);
    // Shortens a sequence to `length` tokens, releasing whole blocks past it (for recomputation).
    void seq_truncate(int seq, int length);

    int seq_length(int seq) const;
    const std::vector<int>& seq_block_table(int seq) const;
    int seq_count() const { return live_seqs_; }

    // New blocks that seq_grow(seq, n) would take from the free list (copy-on-write included).
    int blocks_to_grow(int seq, int n) const;
    bool can_grow(int seq, int n) const { return blocks_to_grow(seq, n) <= blocks_free(); }
    // Makes room for n more tokens: positions [length, length + n) become writable and owned by this
    // sequence alone, and length += n. Throws Error when the pool is exhausted (check can_grow first).
    void seq_grow(int seq, int n);
    // Slot of token position `pos` (< seq_length) of a sequence: block * block_size + offset.
    int slot(int seq, int pos) const;

    // ---- memory --------------------------------------------------------------------------------
    // K (kv = 0) or V (kv = 1) rows of one layer in one block: [block_size][kv_heads][head_dim], of an
    // fp32 pool (block_data) or a bf16 one (block_data_bf16); the other accessor returns null.
    // Device pointers of the pool's backend (host memory on the CPU backend).
    float* block_data(int block, int layer, int kv) const {
        return dtype_ != KvDtype::fp32 ? nullptr : pool_.as<float>() + element_offset(block, layer, kv);
    }
    uint16_t* block_data_bf16(int block, int layer, int kv) const {
        return dtype_ != KvDtype::bf16 ? nullptr : pool_.as<uint16_t>() + element_offset(block, layer, kv);
    }
    // Elements (of the pool's dtype) between the same (layer, kv) rows of consecutive physical blocks.
    size_t block_stride() const { return static_cast<size_t>(layers_) * 2 * block_floats_; }
    // Elements of one (block, layer, kv) tile: block_size * kv_heads * head_dim.
    size_t tile_floats() const { return block_floats_; }
    int block_refcount(int block) const { return refcount_[block]; }

   private:
    struct Seq {
        bool live = false;
        int length = 0;
        std::vector<int> blocks;  // physical block ids, logical order
    };

    size_t element_offset(int block, int layer, int kv) const {
        return ((static_cast<size_t>(block) * layers_ + layer) * 2 + kv) * block_floats_;
    }
    // A whole block (all layers, K and V), as bytes.
    unsigned char* block_bytes(int block) const {
        return pool_.as<unsigned char>() + element_offset(block, 0, 0) * kv_dtype_bytes(dtype_);
    }
    int take_block();  // from the free list, refcount 1
    void release_block(int block);
    const Seq& seq_at(int seq) const;
    Seq& seq_at(int seq);

    int layers_, kv_heads_, head_dim_, block_size_, num_blocks_;
    KvDtype dtype_;
    size_t block_floats_;           // block_size * kv_heads * head_dim
    DeviceBuffer pool_;             // [num_blocks][layers][2][block_size][kv_heads][head_dim] of dtype_
    std::vector<int> refcount_;     // [num_blocks]
    std::vector<int> free_blocks_;  // stack of free block ids
    std::vector<Seq> seqs_;
    std::vector<int> free_seq_ids_;
    int live_seqs_ = 0;
};

}  // namespace stride
