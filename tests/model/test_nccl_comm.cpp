// tests/model/test_nccl_comm.cpp: NCCL on a GPU (model/nccl/): a single-rank communicator forms,
// broadcasts and finalizes; a peer that never arrives makes init fail within its deadline, naming the
// peer, aborted and counted; with two GPUs, a model's weights broadcast in bf16 buckets
// (model/weight_transfer.h over NcclWeightChannel, from host and from device memory) arrive equal to
// the CPU's bf16 rounding and checked, and a peer that never calls the collective makes it fail within its
// deadline. Always compiled; skips with a message without NCCL or a GPU (bench/gpu/device_checks.sh runs it
// on one). Also: the role's stop ends a wait early; bad options are refused naming the problem (no GPU
// needed).
#include <gtest/gtest.h>

#include <string>

#include "model/backend.h"

#if defined(STRIDE_HAVE_NCCL)
#include <cuda_runtime_api.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "common/base/crc32c.h"
#include "model/dtype.h"
#include "model/nccl/nccl_comm.h"
#include "model/nccl/nccl_weights.h"
#include "model/params.h"
#include "model/weight_transfer.h"
#include "tests/model/transformer_test_util.h"
#endif

namespace stride {
namespace {

#if !defined(STRIDE_HAVE_NCCL)

TEST(NcclComm, NeedsNccl) {
    GTEST_SKIP() << "NCCL tests not run: this build has no NCCL (needs CUDA and nccl.h)";
}

#else

using Clock = std::chrono::steady_clock;

int gpu_count() {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

#define SKIP_WITHOUT_GPUS(n)                                                                                 \
    do {                                                                                                     \
        const std::string why = device_unavailable_reason("cuda");                                           \
        if (!why.empty()) GTEST_SKIP() << "NCCL test not run: " << why;                                      \
        if (gpu_count() < (n))                                                                               \
            GTEST_SKIP() << "NCCL test not run: needs " << (n) << " GPUs, this machine has " << gpu_count(); \
    } while (0)

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

NcclCommOptions options(int rank, int nranks, const std::string& id, double timeout_s) {
    NcclCommOptions o;
    o.rank = rank;
    o.nranks = nranks;
    o.device = rank % std::max(1, gpu_count());
    o.unique_id = id;
    o.timeout_s = timeout_s;
    o.rank_names = {"trainer", "rollout-0", "rollout-1"};
    return o;
}

// Runs without a GPU: the options are checked before any CUDA or NCCL call.
TEST(NcclComm, BadOptionsAreRefusedNamingTheProblem) {
    auto error_of = [](const NcclCommOptions& o) {
        try {
            NcclComm comm(o);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    const std::string id(128, 'x');
    EXPECT_NE(error_of(options(2, 2, id, 1)).find("rank 2 of 2 is not a rank"), std::string::npos);
    EXPECT_NE(error_of(options(-1, 2, id, 1)).find("rank -1 of 2"), std::string::npos);
    EXPECT_NE(error_of(options(0, 1, "short", 1)).find("unique id has 5 bytes, not 128"), std::string::npos);
    EXPECT_EQ(weight_bucket_count(0, 8), 0u);
    EXPECT_EQ(weight_bucket_count(16, 8), 2u);
    EXPECT_EQ(weight_bucket_count(17, 8), 3u);
    EXPECT_THROW(weight_bucket_count(1, 0), Error);
}

TEST(NcclComm, ASingleRankCommunicatorFormsAndBroadcasts) {
    SKIP_WITHOUT_GPUS(1);
    NcclComm comm(options(0, 1, nccl_make_unique_id(), 30));
    EXPECT_FALSE(comm.broken());
    std::vector<float> host(1000);
    for (size_t i = 0; i < host.size(); ++i) host[i] = 0.5f * static_cast<float>(i);
    void* dev = nullptr;
    ASSERT_EQ(cudaMalloc(&dev, host.size() * 4), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(dev, host.data(), host.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
    cudaStream_t s = nullptr;
    ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
    comm.broadcast(dev, dev, host.size() * 4, 0, s, "a test buffer");
    std::vector<float> back(host.size());
    ASSERT_EQ(cudaMemcpy(back.data(), dev, back.size() * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    EXPECT_EQ(back, host);
    // The whole weight path on one rank: header and every bucket go through the collective, from host
    // memory and from device memory (the bf16 conversion kernel).
    Model model(test::tiny_qwen2());
    test::randomize_model(model, 7);
    const size_t n = model.data.size();
    TransferOptions t;
    t.bucket_elems = 1000;  // many buckets, the last one partial
    const uint32_t crc = bf16_wire_crc32c(model.data.data(), n);
    {
        NcclWeightChannel host(comm, false);
        send_weight_version(host, 3, model.data.data(), n, crc, 1, t);
    }
    float* weights = nullptr;
    ASSERT_EQ(cudaMalloc(&weights, n * 4), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(weights, model.data.data(), n * 4, cudaMemcpyHostToDevice), cudaSuccess);
    {
        NcclWeightChannel device(comm, true);
        send_weight_version(device, 4, weights, n, crc, 1, t);
    }
    cudaFree(weights);
    EXPECT_FALSE(comm.broken());
    cudaStreamDestroy(s);
    cudaFree(dev);
}

TEST(NcclComm, APeerThatNeverArrivesFailsInitWithinItsDeadline) {
    SKIP_WITHOUT_GPUS(1);
    std::vector<std::string> gave_up;
    NcclCommOptions o = options(0, 2, nccl_make_unique_id(), 3);
    o.on_give_up = [&](const std::string& call, WaitOutcome) { gave_up.push_back(call); };
    const auto t0 = Clock::now();
    try {
        NcclComm comm(o);  // rank 1 never comes
        FAIL() << "init returned without its peer";
    } catch (const DeadlineError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("ncclCommInitRankConfig"), std::string::npos) << what;
        EXPECT_NE(what.find("rank 1 (rollout-0)"), std::string::npos) << what;
    }
    const double took = seconds_since(t0);
    EXPECT_GE(took, 3.0);
    EXPECT_LT(took, 20.0) << "the abort must not hang";
    EXPECT_EQ(gave_up, (std::vector<std::string>{"ncclCommInitRankConfig"}));
}

TEST(NcclComm, StopEndsAnInitLongBeforeItsDeadline) {
    SKIP_WITHOUT_GPUS(1);
    std::atomic<bool> stop{false};
    NcclCommOptions o = options(0, 2, nccl_make_unique_id(), 120);
    o.stop = &stop;
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        stop = true;
    });
    const auto t0 = Clock::now();
    try {
        NcclComm comm(o);
        FAIL() << "init returned without its peer";
    } catch (const DeadlineError& e) {
        EXPECT_EQ(e.outcome(), WaitOutcome::stopped) << e.what();
    }
    stopper.join();
    EXPECT_LT(seconds_since(t0), 20.0);
}

TEST(NcclComm, AModelsWeightsArriveEqualAndChecked) {
    SKIP_WITHOUT_GPUS(2);
    Model model(test::tiny_qwen2());
    test::randomize_model(model, 11);
    const size_t n = model.data.size();
    const uint32_t crc = bf16_wire_crc32c(model.data.data(), n);
    const std::string id = nccl_make_unique_id();
    std::vector<float> got;
    WeightWireHeader header;
    std::string error;
    TransferOptions t;
    t.bucket_elems = 5000;
    std::thread worker([&] {
        try {
            NcclComm comm(options(1, 2, id, 60));
            NcclWeightChannel ch(comm, false);
            header = receive_weight_version(ch, got, n, t);
        } catch (const std::exception& e) {
            error = e.what();
        }
    });
    {
        NcclComm comm(options(0, 2, id, 60));
        float* weights = nullptr;
        ASSERT_EQ(cudaMalloc(&weights, n * 4), cudaSuccess);
        ASSERT_EQ(cudaMemcpy(weights, model.data.data(), n * 4, cudaMemcpyHostToDevice), cudaSuccess);
        NcclWeightChannel ch(comm, true);  // the trainer's weights on its GPU, converted there
        send_weight_version(ch, 5, weights, n, crc, 3, t);
        cudaFree(weights);
    }
    worker.join();
    ASSERT_EQ(error, "");
    EXPECT_EQ(header.version, 5);
    EXPECT_EQ(header.tensors, 3u);
    EXPECT_EQ(header.buckets, weight_bucket_count(n, 5000));
    ASSERT_EQ(got.size(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(got[i], bf16_to_f32(f32_to_bf16(model.data[i]))) << i;
}

TEST(NcclComm, APeerThatNeverCallsTheCollectiveMakesItFailWithinItsDeadline) {
    SKIP_WITHOUT_GPUS(2);
    const std::string id = nccl_make_unique_id();
    std::atomic<bool> formed{false}, done{false};
    std::thread idle_peer([&] {
        NcclComm comm(options(1, 2, id, 30));
        formed = true;
        while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        comm.abort();  // its root gave up: this rank re-joins in a new generation
    });
    int gave_up = 0;
    NcclCommOptions o = options(0, 2, id, 2);
    o.on_give_up = [&](const std::string& call, WaitOutcome w) {
        EXPECT_EQ(call, "ncclBroadcast");
        EXPECT_EQ(w, WaitOutcome::expired);
        ++gave_up;
    };
    {
        NcclComm comm(o);
        while (!formed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        void* dev = nullptr;
        ASSERT_EQ(cudaMalloc(&dev, 1 << 20), cudaSuccess);
        cudaStream_t s = nullptr;
        ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
        const auto t0 = Clock::now();
        try {
            comm.broadcast(dev, dev, 1 << 20, 0, s, "version 1, bucket 1 of 1");
            FAIL() << "a broadcast without its peer returned";
        } catch (const DeadlineError& e) {
            EXPECT_NE(std::string(e.what()).find("rank 1 (rollout-0)"), std::string::npos) << e.what();
        }
        EXPECT_LT(seconds_since(t0), 20.0);
        EXPECT_TRUE(comm.broken());
        cudaStreamDestroy(s);
        cudaFree(dev);
    }
    done = true;
    idle_peer.join();
    EXPECT_EQ(gave_up, 1);
}

#endif

}  // namespace
}  // namespace stride
