// bench_weight_handover: how long new weights take from the trainer's GPU to a rollout worker's (issue
// #17, "weight hand-over of the 1.5B shape"), on the GPU machine (bench/gpu/device_checks.sh).
//
//   device copy   one cudaMemcpy of the fp32 weights device to device on one GPU: what a colocated
//                 hand-over costs (DeviceWeightSlot), the lower bound.
//   host CRC      the trainer's CRC-32C of the bf16 wire image from its host copy (weight_transfer.h),
//                 paid once per publish.
//   nccl          one version through the whole orchestration (model/weight_transfer.h over
//                 model/nccl/nccl_weights.h): header, bf16 conversion on the device, bucketed
//                 ncclBroadcast, and on a receiver (second GPU, when there is one) each bucket down to
//                 host memory, checked and converted to fp32. With one GPU the communicator has one
//                 rank: the conversion, staging and collective launch costs without a wire.
// Prints seconds and GB/s (fp32 bytes of the model per second, so the rows compare), and each row's
// ratio to the device copy measured in the same run. Skips (exit 0) without NCCL or a GPU.
#include <algorithm>
#include <cstdio>

#include "bench/model/bench_common.h"

#if defined(STRIDE_HAVE_NCCL)
#include <cuda_runtime_api.h>

#include <thread>

#include "model/nccl/nccl_comm.h"
#include "model/nccl/nccl_weights.h"
#include "model/params.h"
#include "model/weight_transfer.h"
#endif

static const char* kUsage =
    "bench_weight_handover [--bucket-mb 64] [--reps 3] [model]\n"
    "  default model: the Qwen2.5-1.5B shape (--hidden 1536 --layers 28 --heads 12 --kv-heads 2\n"
    "  --intermediate 8960 --vocab 151936 --tie)\n" STRIDE_BENCH_MODEL_USAGE;

#if !defined(STRIDE_HAVE_NCCL)

int main() {
    std::printf("bench_weight_handover: skipped: this build has no NCCL (needs CUDA and nccl.h)\n");
    return 0;
}

#else

namespace {

using stride_bench::Clock;
using stride_bench::seconds_since;

bool cuda_ok(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return true;
    std::printf("bench_weight_handover: %s: %s\n", what, cudaGetErrorString(e));
    return false;
}

// A cheap deterministic fill (random-looking, finite): the values do not change the timings.
void fill(std::vector<float>& w) {
    uint32_t x = 12345;
    for (float& v : w) {
        x = x * 1664525u + 1013904223u;
        v = (static_cast<int32_t>(x >> 8) - (1 << 23)) * (0.05f / (1 << 23));
    }
}

void row(const char* name, double s, size_t fp32_bytes, double copy_s) {
    std::printf("%-28s %8.4f s  %8.2f GB/s  x%.2f of the device copy's time\n", name, s, fp32_bytes / s / 1e9,
                s / copy_s);
}

}  // namespace

int main(int argc, char** argv) {
    stride_bench::Args a(argc, argv, kUsage);
    const int bucket_mb = a.get("bucket-mb", 64);
    const int reps = std::max(1, a.get("reps", 3));
    if (a.kv.empty()) {  // no model given: the 1.5B shape
        a.kv.emplace("hidden", "1536");
        a.kv.emplace("layers", "28");
        a.kv.emplace("heads", "12");
        a.kv.emplace("kv-heads", "2");
        a.kv.emplace("intermediate", "8960");
        a.kv.emplace("vocab", "151936");
        a.kv["tie"] = "1";
    }
    const stride::ModelConfig mc = stride_bench::model_config_from_args(a);
    a.done(kUsage);
    int gpus = 0;
    if (cudaGetDeviceCount(&gpus) != cudaSuccess || gpus == 0) {
        std::printf("bench_weight_handover: skipped: no GPU\n");
        return 0;
    }
    const size_t n = stride::ParamLayout(mc).numel();
    const size_t bytes = n * sizeof(float);
    std::printf(
        "bench_weight_handover: %zu weights (%.2f GB fp32, %.2f GB bf16 on the wire), %d GPU(s), "
        "bucket %d MiB, best of %d\n",
        n, bytes / 1e9, bytes / 2e9, gpus, bucket_mb, reps);

    std::vector<float> host(n);
    fill(host);
    float *src = nullptr, *dst = nullptr;
    if (!cuda_ok(cudaSetDevice(0), "cudaSetDevice") || !cuda_ok(cudaMalloc(&src, bytes), "cudaMalloc") ||
        !cuda_ok(cudaMalloc(&dst, bytes), "cudaMalloc") ||
        !cuda_ok(cudaMemcpy(src, host.data(), bytes, cudaMemcpyHostToDevice), "upload"))
        return 1;

    double copy_s = 1e30;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = Clock::now();
        cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice);
        cudaDeviceSynchronize();
        copy_s = std::min(copy_s, seconds_since(t0));
    }
    cudaFree(dst);
    row("device copy (1 GPU)", copy_s, bytes, copy_s);

    double crc_s = 1e30;
    uint32_t crc = 0;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = Clock::now();
        crc = stride::bf16_wire_crc32c(host.data(), n);
        crc_s = std::min(crc_s, seconds_since(t0));
    }
    row("host CRC of the wire image", crc_s, bytes, copy_s);

    const int ranks = std::min(gpus, 2);
    stride::TransferOptions t;
    t.timeout_s = 120;
    t.bucket_elems = static_cast<size_t>(bucket_mb) << 19;  // MiB of bf16
    const std::string id = stride::nccl_make_unique_id();
    auto options = [&](int rank) {
        stride::NcclCommOptions o;
        o.rank = rank;
        o.nranks = ranks;
        o.device = rank;
        o.unique_id = id;
        o.timeout_s = 120;
        o.rank_names = {"trainer", "rollout-0"};
        return o;
    };
    std::string error;
    std::thread receiver;
    if (ranks == 2)
        receiver = std::thread([&] {
            try {
                stride::NcclComm comm(options(1));
                stride::NcclWeightChannel ch(comm, false);
                std::vector<float> got;
                for (int r = 0; r < reps; ++r) stride::receive_weight_version(ch, got, n, t);
                if (stride::bf16_wire_crc32c(got.data(), n) != crc) error = "the received weights differ";
            } catch (const std::exception& e) {
                error = e.what();
            }
        });
    double nccl_s = 1e30;
    try {
        stride::NcclComm comm(options(0));
        stride::NcclWeightChannel ch(comm, true);
        for (int r = 0; r < reps; ++r) {
            const auto t0 = Clock::now();
            stride::send_weight_version(ch, r + 1, src, n, crc, 1, t);
            nccl_s = std::min(nccl_s, seconds_since(t0));
        }
    } catch (const std::exception& e) {
        error = e.what();
    }
    if (receiver.joinable()) receiver.join();
    cudaFree(src);
    if (!error.empty()) {
        std::printf("bench_weight_handover: nccl: %s\n", error.c_str());
        return 1;
    }
    row(ranks == 2 ? "nccl (2 GPUs, checked)" : "nccl (1 rank, no wire)", nccl_s, bytes, copy_s);
    std::printf("handover: device copy %.4f s, nccl %.4f s (%d rank(s)), ratio nccl/copy %.2f\n", copy_s,
                nccl_s, ranks, nccl_s / copy_s);
    return 0;
}

#endif
