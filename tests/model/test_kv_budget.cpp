// The KV pool sized from GPU memory (model/kv_budget.h): the arithmetic on given numbers, the error
// when one sequence does not fit, and the Generator taking its pool size from a backend that reports
// its memory (the CPU-staged backend with a memory_info of fixed numbers: what cudaMemGetInfo gives
// on a GPU).
#include <gtest/gtest.h>

#include <climits>
#include <string>

#include "common/base/error.h"
#include "model/generator.h"
#include "model/kv_budget.h"
#include "tests/model/staged_backend.h"
#include "tests/model/transformer_test_util.h"

using namespace stride;

namespace {

constexpr size_t MiB = size_t(1) << 20;
constexpr size_t GiB = size_t(1) << 30;

std::string error_of(const KvBudget& b) {
    try {
        kv_blocks_for_budget(b);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

// An 80 GiB GPU with 2 GiB taken by others: 0.9 * 80 = 72 GiB allowed, minus 2 in use, 1 of weights
// and 1 of activations leaves 68 GiB, i.e. 68 * 1024 blocks of 1 MiB.
TEST(KvBudget, BlocksAreWhatTheFractionLeavesAfterEverythingElse) {
    KvBudget b;
    b.total_bytes = 80 * GiB, b.free_bytes = 78 * GiB, b.fraction = 0.9;
    b.weight_bytes = 1 * GiB, b.activation_bytes = 1 * GiB, b.block_bytes = 1 * MiB;
    EXPECT_EQ(kv_blocks_for_budget(b), 68 * 1024);
    b.free_bytes = 80 * GiB;  // nothing else on the device: two more GiB
    EXPECT_EQ(kv_blocks_for_budget(b), 70 * 1024);
    b.fraction = 0.5;  // 40 - 2
    EXPECT_EQ(kv_blocks_for_budget(b), 38 * 1024);
    b.block_bytes = 3 * MiB;  // rounds down
    EXPECT_EQ(kv_blocks_for_budget(b), 38 * 1024 / 3);
}

TEST(KvBudget, AHugeDeviceIsCappedAtIntMax) {
    KvBudget b;
    b.total_bytes = b.free_bytes = size_t(1) << 50, b.fraction = 1.0, b.block_bytes = 64;
    EXPECT_EQ(kv_blocks_for_budget(b), INT_MAX);
}

// Not even the longest sequence fits: an error that names the numbers and what to change.
TEST(KvBudget, TooLittleForOneSequenceIsAClearError) {
    KvBudget b;
    b.total_bytes = 16 * GiB, b.free_bytes = 4 * GiB, b.fraction = 0.9;  // 14.4 allowed, 12 in use
    b.weight_bytes = 2 * GiB, b.activation_bytes = 256 * MiB, b.block_bytes = 4 * MiB, b.min_blocks = 100;
    // 14.4 - 12 - 2 - 0.25 = 0.15 GiB = 153 MiB: 38 blocks < 100.
    const std::string e = error_of(b);
    ASSERT_FALSE(e.empty()) << "38 blocks accepted for a sequence of 100";
    for (const char* part : {"rollout.kv_memory_fraction", "16384 MiB", "12288 MiB", "2048 MiB",
                             "38 KV blocks", "needs 100", "rollout.max_tokens"})
        EXPECT_NE(e.find(part), std::string::npos) << "missing '" << part << "' in: " << e;
    b.min_blocks = 38;
    EXPECT_EQ(kv_blocks_for_budget(b), 38);
    b.weight_bytes = 20 * GiB;  // nothing left at all: 0 blocks, still a clear error
    EXPECT_NE(error_of(b).find("0 KV blocks"), std::string::npos) << error_of(b);
}

TEST(KvBudget, RefusesAFractionOutsideZeroToOne) {
    KvBudget b;
    b.total_bytes = b.free_bytes = GiB, b.block_bytes = MiB;
    for (double f : {0.0, -0.1, 1.5}) {
        b.fraction = f;
        EXPECT_NE(error_of(b).find("kv_memory_fraction"), std::string::npos) << f;
    }
}

TEST(KvBudget, SizesOfBlocksAndWeights) {
    const ModelConfig cfg = test::tiny_qwen2();
    const ParamLayout layout(cfg);
    EXPECT_EQ(kv_block_bytes(cfg, 16, KvDtype::fp32),
              static_cast<size_t>(cfg.layers) * 2 * 16 * cfg.kv_heads * cfg.head_dim * 4);
    EXPECT_EQ(kv_block_bytes(cfg, 16, KvDtype::bf16) * 2, kv_block_bytes(cfg, 16, KvDtype::fp32));
    EXPECT_EQ(device_weight_bytes(layout, WeightDtype::fp32), layout.numel() * 4);
    size_t halves = 0, floats = 0;
    for (const ParamSpec& s : layout.specs()) (s.shape.size() >= 2 ? halves : floats) += s.numel;
    EXPECT_GE(device_weight_bytes(layout, WeightDtype::bf16), halves * 2 + floats * 4);
    EXPECT_LT(device_weight_bytes(layout, WeightDtype::bf16), halves * 2 + floats * 4 + 64);
    // More tokens per step need more activation memory.
    EXPECT_GT(decoder_activation_bytes(cfg, 4096, 256), decoder_activation_bytes(cfg, 2048, 256));
}

namespace {

size_t g_free = 0, g_total = 0;
void fake_memory_info(size_t* free_bytes, size_t* total_bytes) {
    *free_bytes = g_free, *total_bytes = g_total;
}

// The staged backend with a device memory of g_total bytes, g_free of them free.
const Backend& sized_backend() {
    static const Backend b = [] {
        Backend x = test::staged_backend();
        x.name = "cpu-staged-sized";
        x.memory_info = &fake_memory_info;
        return x;
    }();
    return b;
}

}  // namespace

// The Generator asks the backend and sizes its pool with the same arithmetic; kv_blocks still wins.
TEST(KvBudget, GeneratorSizesItsPoolFromTheDevice) {
    Model m(test::tiny_qwen2());
    test::randomize_model(m, 1);
    GeneratorOptions opt;
    opt.backend = &sized_backend();
    opt.kv_memory_fraction = 0.5;
    opt.block_size = 4, opt.max_running = 8, opt.max_batch_tokens = 64, opt.kv_min_tokens = 40;
    g_total = 512 * MiB, g_free = 500 * MiB;
    KvBudget b;
    b.total_bytes = g_total, b.free_bytes = g_free, b.fraction = 0.5;
    b.weight_bytes = device_weight_bytes(m.layout, opt.weight_dtype);
    b.activation_bytes = decoder_activation_bytes(m.config(), 64, 8);
    b.block_bytes = kv_block_bytes(m.config(), 4, opt.kv_dtype);
    b.min_blocks = 10;
    const int expected = kv_blocks_for_budget(b);
    EXPECT_GT(expected, 1000);
    EXPECT_EQ(Generator(m, opt).cache().blocks_total(), expected);

    opt.kv_blocks = 77;
    EXPECT_EQ(Generator(m, opt).cache().blocks_total(), 77) << "rollout.kv_blocks overrides the budget";
    opt.kv_blocks = 0;
    g_free = 200 * MiB;  // 256 allowed - 312 in use: nothing left
    try {
        Generator g(m, opt);
        FAIL() << "a pool that cannot hold one sequence was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("needs 10"), std::string::npos) << e.what();
    }
}
