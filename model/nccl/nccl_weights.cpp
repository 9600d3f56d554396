// model/nccl/nccl_weights.cpp: see nccl_weights.h.
#include "model/nccl/nccl_weights.h"

#include <cstring>

#include "common/base/crc32c.h"
#include "model/cuda/bf16_convert.h"
#include "model/dtype.h"

namespace stride {

namespace {

void check_cuda(cudaError_t e, const std::string& what) {
    STRIDE_CHECK(e == cudaSuccess, "NCCL weights: " + what + ": " + cudaGetErrorString(e));
}

}  // namespace

NcclWeightChannel::NcclWeightChannel(NcclComm& comm, bool device_source)
    : comm_(comm), device_source_(device_source) {
    check_cuda(cudaSetDevice(comm_.device()), "cudaSetDevice");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
}

NcclWeightChannel::~NcclWeightChannel() {
    // An aborted communicator may leave a kernel on the stream; freeing after the abort is safe.
    if (device_) cudaFree(device_);
    if (pinned_) cudaFreeHost(pinned_);
    if (stream_) cudaStreamDestroy(stream_);
}

// Grows the staging buffers to `bytes` (the root's bucket size rules: a receiver's grows to it).
void NcclWeightChannel::ensure_staging(size_t bytes) {
    if (bytes <= staging_bytes_) return;
    if (device_) cudaFree(device_);
    if (pinned_) cudaFreeHost(pinned_);
    device_ = nullptr;
    pinned_ = nullptr;
    staging_bytes_ = 0;
    check_cuda(cudaMalloc(&device_, bytes), "cudaMalloc of " + std::to_string(bytes) + " bytes");
    check_cuda(cudaMallocHost(reinterpret_cast<void**>(&pinned_), bytes),
               "cudaMallocHost of " + std::to_string(bytes) + " bytes");
    staging_bytes_ = bytes;
}

void NcclWeightChannel::broadcast_bytes(void* bytes, size_t n, const std::string& what,
                                        const CallDeadline& d) {
    check_cuda(cudaSetDevice(comm_.device()), "cudaSetDevice");
    ensure_staging(n);
    const bool root = comm_.rank() == 0;
    if (root) {
        std::memcpy(pinned_, bytes, n);
        check_cuda(cudaMemcpyAsync(device_, pinned_, n, cudaMemcpyHostToDevice, stream_), what + ": upload");
    }
    comm_.broadcast(device_, device_, n, 0, stream_, what, d.timeout_s);
    if (root) return;
    check_cuda(cudaMemcpyAsync(pinned_, device_, n, cudaMemcpyDeviceToHost, stream_), what + ": download");
    comm_.wait(stream_, "cudaMemcpyAsync(" + what + ")", "this device", d.timeout_s);
    std::memcpy(bytes, pinned_, n);
}

void NcclWeightChannel::send_bucket(const float* src, size_t count, const std::string& what,
                                    const CallDeadline& d) {
    STRIDE_CHECK(comm_.rank() == 0, "NCCL weights: only rank 0 (the trainer) sends");
    check_cuda(cudaSetDevice(comm_.device()), "cudaSetDevice");
    const size_t bytes = count * sizeof(uint16_t);
    ensure_staging(bytes);
    if (device_source_) {
        cuda::f32_to_bf16(static_cast<uint16_t*>(device_), src, count, stream_);
    } else {
        // The previous bucket's upload has finished: broadcast() waited for the stream.
        auto* wire = reinterpret_cast<uint16_t*>(pinned_);
        for (size_t i = 0; i < count; ++i) wire[i] = f32_to_bf16(src[i]);
        check_cuda(cudaMemcpyAsync(device_, pinned_, bytes, cudaMemcpyHostToDevice, stream_),
                   what + ": upload");
    }
    comm_.broadcast(device_, device_, bytes, 0, stream_, what, d.timeout_s);
}

uint32_t NcclWeightChannel::receive_bucket(float* dst, size_t count, uint32_t crc, const std::string& what,
                                           const CallDeadline& d) {
    STRIDE_CHECK(comm_.rank() != 0, "NCCL weights: rank 0 (the trainer) sends, it does not receive");
    check_cuda(cudaSetDevice(comm_.device()), "cudaSetDevice");
    const size_t bytes = count * sizeof(uint16_t);
    ensure_staging(bytes);
    comm_.broadcast(nullptr, device_, bytes, 0, stream_, what, d.timeout_s);
    check_cuda(cudaMemcpyAsync(pinned_, device_, bytes, cudaMemcpyDeviceToHost, stream_),
               what + ": download");
    comm_.wait(stream_, "cudaMemcpyAsync(" + what + ")", "this device", d.timeout_s);
    crc = crc32c(pinned_, bytes, crc);
    const auto* wire = reinterpret_cast<const uint16_t*>(pinned_);
    for (size_t i = 0; i < count; ++i) dst[i] = bf16_to_f32(wire[i]);
    return crc;
}

}  // namespace stride
