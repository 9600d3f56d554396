// Paged KV cache bookkeeping: block allocation, slots, sharing by fork, copy-on-write, truncation,
// budget checks and errors.
#include <gtest/gtest.h>

#include "common/base/error.h"
#include "model/kv_cache.h"

namespace stride {
namespace {

ModelConfig tiny_config() {
    ModelConfig c;
    c.layers = 2;
    c.kv_heads = 2;
    c.head_dim = 4;
    return c;
}

TEST(KvCache, PoolLayoutAndBlocksForBytes) {
    KvCache cache(tiny_config(), 8, 4);
    // [blocks][layers][2][block_size][kv_heads][head_dim]
    EXPECT_EQ(cache.tile_floats(), 4u * 2 * 4);
    EXPECT_EQ(cache.block_stride(), 2u * 2 * 4 * 2 * 4);
    EXPECT_EQ(cache.pool_bytes(), 8 * cache.block_stride() * sizeof(float));
    EXPECT_EQ(cache.block_data(1, 0, 0) - cache.block_data(0, 0, 0),
              static_cast<ptrdiff_t>(cache.block_stride()));
    EXPECT_EQ(cache.block_data(0, 1, 1) - cache.block_data(0, 1, 0),
              static_cast<ptrdiff_t>(cache.tile_floats()));
    EXPECT_EQ(KvCache::blocks_for_bytes(tiny_config(), cache.pool_bytes(), 4), 8);
    EXPECT_EQ(KvCache::blocks_for_bytes(tiny_config(), cache.pool_bytes() - 1, 4), 7);
}

TEST(KvCache, GrowAllocatesBlocksAndSlots) {
    KvCache cache(tiny_config(), 8, 4);
    EXPECT_EQ(cache.blocks_used(), 0);
    EXPECT_EQ(cache.blocks_total(), 8);
    int a = cache.seq_create();
    int b = cache.seq_create();
    EXPECT_EQ(cache.blocks_to_grow(a, 5), 2);
    cache.seq_grow(a, 5);  // 2 blocks
    cache.seq_grow(b, 1);  // 1 block
    cache.seq_grow(a, 3);  // fills a's second block exactly: no new block
    EXPECT_EQ(cache.seq_length(a), 8);
    EXPECT_EQ(cache.blocks_used(), 3);
    EXPECT_EQ(cache.blocks_to_grow(a, 1), 1);
    const auto& ta = cache.seq_block_table(a);
    ASSERT_EQ(ta.size(), 2u);
    for (int p = 0; p < 8; ++p) EXPECT_EQ(cache.slot(a, p), ta[p / 4] * 4 + p % 4);
    EXPECT_NE(cache.seq_block_table(b)[0], ta[0]);
    EXPECT_NE(cache.seq_block_table(b)[0], ta[1]);
    EXPECT_THROW(cache.slot(a, 8), Error);

    cache.seq_free(a);
    EXPECT_EQ(cache.blocks_used(), 1);
    cache.seq_free(b);
    EXPECT_EQ(cache.blocks_used(), 0);
    EXPECT_EQ(cache.seq_count(), 0);
    EXPECT_THROW(cache.seq_length(a), Error);
    EXPECT_EQ(cache.seq_create(), b);  // ids are reused
}

TEST(KvCache, ForkSharesBlocksAndCopiesPartialBlockOnWrite) {
    KvCache cache(tiny_config(), 8, 4);
    int parent = cache.seq_create();
    cache.seq_grow(parent, 6);  // blocks: full + partial (2 of 4)
    const std::vector<int> shared = cache.seq_block_table(parent);
    // Mark the partial block's K/V in every layer so the copy can be checked.
    for (int l = 0; l < 2; ++l)
        for (int kv = 0; kv < 2; ++kv)
            for (size_t i = 0; i < cache.tile_floats(); ++i)
                cache.block_data(shared[1], l, kv)[i] = 100.0f * l + 10 * kv + i;

    int child = cache.seq_fork(parent);
    EXPECT_EQ(cache.seq_length(child), 6);
    EXPECT_EQ(cache.seq_block_table(child), shared);
    EXPECT_EQ(cache.blocks_used(), 2);  // nothing copied yet
    EXPECT_EQ(cache.block_refcount(shared[0]), 2);
    EXPECT_EQ(cache.block_refcount(shared[1]), 2);

    // The child writes into the shared partial block: it gets a private copy (1 block, copy-on-write).
    EXPECT_EQ(cache.blocks_to_grow(child, 1), 1);
    cache.seq_grow(child, 1);
    const auto& tc = cache.seq_block_table(child);
    EXPECT_EQ(tc[0], shared[0]);
    EXPECT_NE(tc[1], shared[1]);
    EXPECT_EQ(cache.block_refcount(shared[1]), 1);
    for (int l = 0; l < 2; ++l)
        for (int kv = 0; kv < 2; ++kv)
            for (size_t i = 0; i < cache.tile_floats(); ++i)
                EXPECT_EQ(cache.block_data(tc[1], l, kv)[i], 100.0f * l + 10 * kv + i);
    // The parent now owns its partial block alone: writing into it copies nothing.
    EXPECT_EQ(cache.blocks_to_grow(parent, 2), 0);
    cache.seq_grow(parent, 2);
    EXPECT_EQ(cache.seq_block_table(parent)[1], shared[1]);
    EXPECT_EQ(cache.blocks_used(), 3);

    cache.seq_free(parent);
    EXPECT_EQ(cache.blocks_used(), 2);  // shared[0] still held by the child
    EXPECT_EQ(cache.block_refcount(shared[0]), 1);
    cache.seq_free(child);
    EXPECT_EQ(cache.blocks_used(), 0);
}

TEST(KvCache, ForkAtBlockBoundaryNeedsNoCopy) {
    KvCache cache(tiny_config(), 8, 4);
    int parent = cache.seq_create();
    cache.seq_grow(parent, 8);
    int kids[3];
    for (int& k : kids) k = cache.seq_fork(parent);
    for (int k : kids) EXPECT_EQ(cache.blocks_to_grow(k, 1), 1);  // a fresh block, not a copy
    for (int k : kids) cache.seq_grow(k, 1);
    EXPECT_EQ(cache.blocks_used(), 2 + 3);
    cache.seq_free(parent);
    for (int k : kids) cache.seq_free(k);
    EXPECT_EQ(cache.blocks_used(), 0);
}

TEST(KvCache, TruncateReleasesBlocks) {
    KvCache cache(tiny_config(), 8, 4);
    int s = cache.seq_create();
    cache.seq_grow(s, 10);
    EXPECT_EQ(cache.blocks_used(), 3);
    cache.seq_truncate(s, 5);
    EXPECT_EQ(cache.seq_length(s), 5);
    EXPECT_EQ(cache.blocks_used(), 2);
    cache.seq_truncate(s, 0);
    EXPECT_EQ(cache.blocks_used(), 0);
    EXPECT_THROW(cache.seq_truncate(s, 1), Error);
    cache.seq_grow(s, 3);
    EXPECT_EQ(cache.blocks_used(), 1);
}

TEST(KvCache, BudgetChecksAndExhaustion) {
    KvCache cache(tiny_config(), 4, 4);
    EXPECT_TRUE(cache.can_allocate(16));
    EXPECT_FALSE(cache.can_allocate(17));
    int a = cache.seq_create();
    cache.seq_grow(a, 9);  // 3 blocks
    EXPECT_TRUE(cache.can_allocate(4));
    EXPECT_FALSE(cache.can_allocate(5));
    EXPECT_TRUE(cache.can_grow(a, 7));
    EXPECT_FALSE(cache.can_grow(a, 8));
    EXPECT_THROW(cache.seq_grow(a, 8), Error);
    EXPECT_EQ(cache.seq_length(a), 9);  // a failed grow changes nothing
    EXPECT_EQ(cache.blocks_used(), 3);
}

TEST(KvCache, BadArgumentsThrow) {
    EXPECT_THROW(KvCache(tiny_config(), 0, 4), Error);
    EXPECT_THROW(KvCache(tiny_config(), 4, 0), Error);
    KvCache cache(tiny_config(), 4, 4);
    EXPECT_THROW(cache.seq_fork(3), Error);
    EXPECT_THROW(cache.seq_free(0), Error);
}

}  // namespace
}  // namespace stride
