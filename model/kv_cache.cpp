#include "model/kv_cache.h"

#include <cstring>
#include <string>

#include "common/base/error.h"

namespace stride {

size_t kv_dtype_bytes(KvDtype dtype) {
    return dtype == KvDtype::bf16 ? sizeof(uint16_t) : sizeof(float);
}

const char* kv_dtype_name(KvDtype dtype) {
    return dtype == KvDtype::bf16 ? "bf16" : "fp32";
}

KvDtype parse_kv_dtype(const std::string& name) {
    if (name == "fp32") return KvDtype::fp32;
    if (name == "bf16") return KvDtype::bf16;
    throw Error("KV cache dtype '" + name + "': expected fp32 or bf16");
}

KvCache::KvCache(const ModelConfig& cfg, int num_blocks, int block_size, KvDtype dtype,
                 const Backend& backend)
    : layers_(cfg.layers),
      kv_heads_(cfg.kv_heads),
      head_dim_(cfg.head_dim),
      block_size_(block_size),
      num_blocks_(num_blocks),
      dtype_(dtype) {
    STRIDE_CHECK(layers_ > 0 && kv_heads_ > 0 && head_dim_ > 0,
                 "KvCache: model config has no layers, kv_heads or head_dim");
    STRIDE_CHECK(block_size > 0, "KvCache: block_size must be positive, got " + std::to_string(block_size));
    STRIDE_CHECK(num_blocks > 0, "KvCache: num_blocks must be positive, got " + std::to_string(num_blocks) +
                                     " (the KV memory budget is too small for one block)");
    block_floats_ = static_cast<size_t>(block_size_) * kv_heads_ * head_dim_;
    pool_.set_backend(backend);
    pool_.grow(static_cast<size_t>(num_blocks_) * block_stride() * kv_dtype_bytes(dtype_));
    pool_.zero();
    refcount_.assign(num_blocks_, 0);
    // Stack popped from the back: hand out low block ids first (easier to read in tests and dumps).
    free_blocks_.reserve(num_blocks_);
    for (int b = num_blocks_ - 1; b >= 0; --b) free_blocks_.push_back(b);
}

int KvCache::blocks_for_bytes(const ModelConfig& cfg, size_t bytes, int block_size, KvDtype dtype) {
    size_t per_block = static_cast<size_t>(cfg.layers) * 2 * block_size * cfg.kv_heads * cfg.head_dim *
                       kv_dtype_bytes(dtype);
    if (per_block == 0) return 0;
    return static_cast<int>(bytes / per_block);
}

int KvCache::take_block() {
    STRIDE_CHECK(!free_blocks_.empty(), "KvCache: out of KV blocks (" + std::to_string(num_blocks_) +
                                            " blocks of " + std::to_string(block_size_) +
                                            " tokens all in use); raise the KV memory budget");
    int b = free_blocks_.back();
    free_blocks_.pop_back();
    refcount_[b] = 1;
    return b;
}

void KvCache::release_block(int block) {
    if (--refcount_[block] == 0) free_blocks_.push_back(block);
}

const KvCache::Seq& KvCache::seq_at(int seq) const {
    STRIDE_CHECK(seq >= 0 && seq < static_cast<int>(seqs_.size()) && seqs_[seq].live,
                 "KvCache: no live sequence with id " + std::to_string(seq));
    return seqs_[seq];
}

KvCache::Seq& KvCache::seq_at(int seq) {
    return const_cast<Seq&>(static_cast<const KvCache*>(this)->seq_at(seq));
}

int KvCache::seq_create() {
    int id;
    if (!free_seq_ids_.empty()) {
        id = free_seq_ids_.back();
        free_seq_ids_.pop_back();
    } else {
        id = static_cast<int>(seqs_.size());
        seqs_.emplace_back();
    }
    Seq& s = seqs_[id];
    s.live = true;
    s.length = 0;
    s.blocks.clear();
    ++live_seqs_;
    return id;
}

int KvCache::seq_fork(int parent) {
    seq_at(parent);  // validates before seq_create may reallocate seqs_
    int child = seq_create();
    const Seq& p = seqs_[parent];
    Seq& c = seqs_[child];
    c.length = p.length;
    c.blocks = p.blocks;
    for (int b : c.blocks) ++refcount_[b];
    return child;
}

void KvCache::seq_free(int seq) {
    Seq& s = seq_at(seq);
    for (int b : s.blocks) release_block(b);
    s.blocks.clear();
    s.length = 0;
    s.live = false;
    free_seq_ids_.push_back(seq);
    --live_seqs_;
}

void KvCache::seq_truncate(int seq, int length) {
    Seq& s = seq_at(seq);
    STRIDE_CHECK(length >= 0 && length <= s.length,
                 "KvCache: cannot truncate sequence " + std::to_string(seq) + " of length " +
                     std::to_string(s.length) + " to " + std::to_string(length));
    int keep = blocks_for_tokens(length);
    while (static_cast<int>(s.blocks.size()) > keep) {
        release_block(s.blocks.back());
        s.blocks.pop_back();
    }
    s.length = length;
}

int KvCache::seq_length(int seq) const {
    return seq_at(seq).length;
}

const std::vector<int>& KvCache::seq_block_table(int seq) const {
    return seq_at(seq).blocks;
}

int KvCache::blocks_to_grow(int seq, int n) const {
    const Seq& s = seq_at(seq);
    if (n <= 0) return 0;
    int fresh = blocks_for_tokens(s.length + n) - static_cast<int>(s.blocks.size());
    // Writing into a partially filled block that another sequence also holds needs a private copy.
    bool cow = s.length % block_size_ != 0 && refcount_[s.blocks.back()] > 1;
    return fresh + (cow ? 1 : 0);
}

void KvCache::seq_grow(int seq, int n) {
    STRIDE_CHECK(n >= 0, "KvCache: seq_grow by a negative count");
    if (n == 0) return;
    STRIDE_CHECK(can_grow(seq, n), "KvCache: out of KV blocks growing sequence " + std::to_string(seq) +
                                       " by " + std::to_string(n) + " tokens (" +
                                       std::to_string(blocks_free()) +
                                       " free blocks); raise the KV memory budget");
    Seq& s = seq_at(seq);
    if (s.length % block_size_ != 0 && refcount_[s.blocks.back()] > 1) {
        // Copy-on-write: the shared prefix in this block stays valid for the other holders; we take
        // a private copy (all layers, K and V: one contiguous block) and write our new tokens there.
        int old_block = s.blocks.back();
        int new_block = take_block();
        const size_t bytes = block_stride() * kv_dtype_bytes(dtype_);
        pool_.backend()->copy(block_bytes(new_block), block_bytes(old_block), bytes);
        release_block(old_block);
        s.blocks.back() = new_block;
    }
    int need = blocks_for_tokens(s.length + n);
    while (static_cast<int>(s.blocks.size()) < need) s.blocks.push_back(take_block());
    s.length += n;
}

int KvCache::slot(int seq, int pos) const {
    const Seq& s = seq_at(seq);
    STRIDE_CHECK(pos >= 0 && pos < s.length, "KvCache: position " + std::to_string(pos) +
                                                 " outside sequence " + std::to_string(seq) + " of length " +
                                                 std::to_string(s.length));
    return s.blocks[pos / block_size_] * block_size_ + pos % block_size_;
}

}  // namespace stride
