// tests/model/test_nccl_allreduce.cpp: NcclComm::all_reduce, the trainer ranks' gradient sum on GPUs
// (trainer/nccl_collective.h): on one GPU a single-rank sum and mean leave the buffer as it is; with
// two GPUs (one rank each, threads) fp32 buckets sum to the host's sum and fp64 means are exact; a
// rank that never calls the all-reduce makes it fail within its deadline naming that rank. Always
// compiled; skips with a message without NCCL or enough GPUs (bench/gpu/device_checks.sh runs it).
#include <gtest/gtest.h>

#include <string>

#include "model/backend.h"

#if defined(STRIDE_HAVE_NCCL)
#include <cuda_runtime_api.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "model/nccl/nccl_comm.h"
#endif

namespace stride {
namespace {

#if !defined(STRIDE_HAVE_NCCL)

TEST(NcclAllReduce, NeedsNccl) {
    GTEST_SKIP() << "NCCL tests not run: this build has no NCCL (needs CUDA and nccl.h)";
}

#else

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

NcclCommOptions options(int rank, int nranks, const std::string& id, double timeout_s) {
    NcclCommOptions o;
    o.rank = rank;
    o.nranks = nranks;
    o.device = rank;
    o.unique_id = id;
    o.timeout_s = timeout_s;
    o.rank_names = {"trainer-rank-0", "trainer-rank-1"};
    return o;
}

std::vector<float> grads_of(int rank, size_t n) {
    std::vector<float> g(n);
    for (size_t i = 0; i < n; ++i) g[i] = 0.25f * static_cast<float>((i * 7 + rank * 3) % 13) - rank;
    return g;
}

// Sums rank's gradients in place on its GPU; returns them.
std::vector<float> reduce_on(NcclComm& comm, int rank, size_t n) {
    EXPECT_EQ(cudaSetDevice(rank), cudaSuccess);
    const std::vector<float> host = grads_of(rank, n);
    void* dev = nullptr;
    EXPECT_EQ(cudaMalloc(&dev, n * 4), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(dev, host.data(), n * 4, cudaMemcpyHostToDevice), cudaSuccess);
    cudaStream_t s = nullptr;
    EXPECT_EQ(cudaStreamCreate(&s), cudaSuccess);
    const size_t bucket = n / 3 + 1;
    for (size_t b = 0; b < n; b += bucket)
        comm.all_reduce(static_cast<float*>(dev) + b, std::min(bucket, n - b), ncclFloat32, ncclSum, s,
                        "gradients, a bucket");
    std::vector<float> back(n);
    EXPECT_EQ(cudaMemcpy(back.data(), dev, n * 4, cudaMemcpyDeviceToHost), cudaSuccess);
    cudaStreamDestroy(s);
    cudaFree(dev);
    return back;
}

TEST(NcclAllReduce, OneRankLeavesTheBufferAsItIs) {
    SKIP_WITHOUT_GPUS(1);
    NcclComm comm(options(0, 1, nccl_make_unique_id(), 30));
    EXPECT_EQ(reduce_on(comm, 0, 1000), grads_of(0, 1000));
    EXPECT_FALSE(comm.broken());
}

TEST(NcclAllReduce, TwoRanksSumTheirGradientBuckets) {
    SKIP_WITHOUT_GPUS(2);
    const std::string id = nccl_make_unique_id();
    const size_t n = 100000;
    std::vector<float> got1;
    std::thread peer([&] {
        NcclComm comm(options(1, 2, id, 60));
        got1 = reduce_on(comm, 1, n);
    });
    std::vector<float> got0;
    {
        NcclComm comm(options(0, 2, id, 60));
        got0 = reduce_on(comm, 0, n);
    }
    peer.join();
    const std::vector<float> a = grads_of(0, n), b = grads_of(1, n);
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(got0[i], a[i] + b[i]) << i;  // two addends: exact either order
    EXPECT_EQ(got0, got1);
}

TEST(NcclAllReduce, ARankThatNeverCallsItMakesItFailWithinItsDeadline) {
    SKIP_WITHOUT_GPUS(2);
    const std::string id = nccl_make_unique_id();
    std::atomic<bool> formed{false}, done{false};
    std::thread idle([&] {
        NcclComm comm(options(1, 2, id, 30));
        formed = true;
        while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        comm.abort();
    });
    {
        NcclComm comm(options(0, 2, id, 2));
        while (!formed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const auto t0 = std::chrono::steady_clock::now();
        try {
            reduce_on(comm, 0, 1000);
            ADD_FAILURE() << "an all-reduce without its peer returned";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("trainer-rank-1"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("ncclAllReduce"), std::string::npos) << e.what();
        }
        EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 20.0);
        EXPECT_TRUE(comm.broken());
    }
    done = true;
    idle.join();
}

#endif

}  // namespace
}  // namespace stride
