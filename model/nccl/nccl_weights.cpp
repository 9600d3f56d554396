// model/nccl/nccl_weights.cpp: see nccl_weights.h.
#include "model/nccl/nccl_weights.h"

#include <algorithm>
#include <cstring>

#include "common/base/crc32c.h"

namespace stride {

namespace {

void check_cuda(cudaError_t e, const std::string& what) {
    STRIDE_CHECK(e == cudaSuccess, "NCCL weights: " + what + ": " + cudaGetErrorString(e));
}

std::string bucket_text(int64_t version, uint64_t i, uint64_t n) {
    return "version " + std::to_string(version) + ", bucket " + std::to_string(i + 1) + " of " +
           std::to_string(n);
}

NcclWeightHeader make_header(int64_t version, size_t n, size_t bucket_bytes, uint32_t crc, uint32_t tensors) {
    NcclWeightHeader h;
    h.magic = kNcclWeightMagic;
    h.version = version;
    h.total_bytes = n;
    h.bucket_bytes = bucket_bytes;
    h.buckets = nccl_bucket_count(n, bucket_bytes);
    h.crc32c = crc;
    h.tensors = tensors;
    return h;
}

}  // namespace

uint64_t nccl_bucket_count(uint64_t total_bytes, uint64_t bucket_bytes) {
    STRIDE_CHECK(bucket_bytes > 0, "NCCL weights: bucket size 0");
    return (total_bytes + bucket_bytes - 1) / bucket_bytes;
}

NcclWeightBroadcast::NcclWeightBroadcast(NcclComm& comm, size_t bucket_bytes) : comm_(comm) {
    STRIDE_CHECK(
        bucket_bytes >= sizeof(NcclWeightHeader),
        "NCCL weights: bucket of " + std::to_string(bucket_bytes) + " bytes is below the header's 64");
    check_cuda(cudaSetDevice(comm_.device()), "cudaSetDevice");
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    ensure_staging(bucket_bytes);
}

NcclWeightBroadcast::~NcclWeightBroadcast() {
    // An aborted communicator may leave a kernel on the stream; freeing after the abort is safe.
    if (device_) cudaFree(device_);
    if (pinned_) cudaFreeHost(pinned_);
    if (stream_) cudaStreamDestroy(stream_);
}

void NcclWeightBroadcast::ensure_staging(size_t bucket_bytes) {
    if (bucket_bytes <= bucket_bytes_) return;
    if (device_) cudaFree(device_);
    if (pinned_) cudaFreeHost(pinned_);
    device_ = nullptr;
    pinned_ = nullptr;
    check_cuda(cudaMalloc(&device_, bucket_bytes),
               "cudaMalloc of " + std::to_string(bucket_bytes) + " bytes");
    check_cuda(cudaMallocHost(reinterpret_cast<void**>(&pinned_), bucket_bytes),
               "cudaMallocHost of " + std::to_string(bucket_bytes) + " bytes");
    bucket_bytes_ = bucket_bytes;
}

// The header goes through the same staging buffers as a bucket, from the root to everyone.
void NcclWeightBroadcast::broadcast_header(NcclWeightHeader& h) {
    const bool root = comm_.rank() == 0;
    if (root) {
        std::memcpy(pinned_, &h, sizeof(h));
        check_cuda(cudaMemcpyAsync(device_, pinned_, sizeof(h), cudaMemcpyHostToDevice, stream_),
                   "header upload");
    }
    comm_.broadcast(device_, device_, sizeof(h), 0, stream_, "weight header");
    if (root) return;
    check_cuda(cudaMemcpyAsync(pinned_, device_, sizeof(h), cudaMemcpyDeviceToHost, stream_),
               "header download");
    comm_.wait(stream_, "cudaMemcpyAsync(weight header)", "this device");
    std::memcpy(&h, pinned_, sizeof(h));
}

void NcclWeightBroadcast::send(int64_t version, const void* host, size_t n, uint32_t crc32c,
                               uint32_t tensors) {
    STRIDE_CHECK(comm_.rank() == 0, "NCCL weights: only rank 0 (the trainer) sends");
    check_cuda(cudaSetDevice(comm_.device()), "cudaSetDevice");
    NcclWeightHeader h = make_header(version, n, bucket_bytes_, crc32c, tensors);
    broadcast_header(h);
    const char* src = static_cast<const char*>(host);
    for (uint64_t i = 0; i < h.buckets; ++i) {
        const size_t off = i * bucket_bytes_, len = std::min<size_t>(bucket_bytes_, n - off);
        std::memcpy(pinned_, src + off, len);
        check_cuda(cudaMemcpyAsync(device_, pinned_, len, cudaMemcpyHostToDevice, stream_), "bucket upload");
        comm_.broadcast(device_, device_, len, 0, stream_, bucket_text(version, i, h.buckets));
    }
}

void NcclWeightBroadcast::send_device(int64_t version, const void* device, size_t n, uint32_t crc32c,
                                      uint32_t tensors) {
    STRIDE_CHECK(comm_.rank() == 0, "NCCL weights: only rank 0 (the trainer) sends");
    check_cuda(cudaSetDevice(comm_.device()), "cudaSetDevice");
    NcclWeightHeader h = make_header(version, n, bucket_bytes_, crc32c, tensors);
    broadcast_header(h);
    char* src = const_cast<char*>(static_cast<const char*>(device));  // root: send == recv, not written
    for (uint64_t i = 0; i < h.buckets; ++i) {
        const size_t off = i * bucket_bytes_, len = std::min<size_t>(bucket_bytes_, n - off);
        comm_.broadcast(src + off, src + off, len, 0, stream_, bucket_text(version, i, h.buckets));
    }
}

NcclWeightHeader NcclWeightBroadcast::receive(std::vector<char>& out, uint64_t expect_bytes) {
    STRIDE_CHECK(comm_.rank() != 0, "NCCL weights: rank 0 (the trainer) sends, it does not receive");
    check_cuda(cudaSetDevice(comm_.device()), "cudaSetDevice");
    NcclWeightHeader h;
    broadcast_header(h);
    STRIDE_CHECK(h.magic == kNcclWeightMagic, "NCCL weights: the header from rank " + comm_.rank_name(0) +
                                                  " is not a weight header (another collective in flight?)");
    STRIDE_CHECK(expect_bytes == 0 || h.total_bytes == expect_bytes,
                 "NCCL weights: version " + std::to_string(h.version) + " has " +
                     std::to_string(h.total_bytes) + " bytes, this worker's model needs " +
                     std::to_string(expect_bytes));
    STRIDE_CHECK(h.bucket_bytes > 0 && h.buckets == nccl_bucket_count(h.total_bytes, h.bucket_bytes),
                 "NCCL weights: version " + std::to_string(h.version) + " announces " +
                     std::to_string(h.buckets) + " buckets of " + std::to_string(h.bucket_bytes) +
                     " bytes for " + std::to_string(h.total_bytes) + " bytes");
    ensure_staging(h.bucket_bytes);  // the root's bucket may be larger than ours
    out.resize(h.total_bytes);
    uint32_t crc = 0;
    uint64_t received = 0;
    for (uint64_t i = 0; i < h.buckets; ++i) {
        const size_t off = i * h.bucket_bytes, len = std::min<size_t>(h.bucket_bytes, h.total_bytes - off);
        const std::string what = bucket_text(h.version, i, h.buckets);
        comm_.broadcast(nullptr, device_, len, 0, stream_, what);
        check_cuda(cudaMemcpyAsync(pinned_, device_, len, cudaMemcpyDeviceToHost, stream_),
                   "bucket download");
        comm_.wait(stream_, "cudaMemcpyAsync(" + what + ")", "this device");
        crc = crc32c_copy(out.data() + off, pinned_, len, crc);
        received += len;
    }
    STRIDE_CHECK(received == h.total_bytes, "NCCL weights: version " + std::to_string(h.version) +
                                                ": received " + std::to_string(received) + " of " +
                                                std::to_string(h.total_bytes) + " bytes");
    STRIDE_CHECK(crc == h.crc32c, "NCCL weights: version " + std::to_string(h.version) +
                                      " arrived with CRC-32C " + std::to_string(crc) + ", the trainer sent " +
                                      std::to_string(h.crc32c) + ": not used");
    return h;
}

}  // namespace stride
