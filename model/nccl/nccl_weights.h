// model/nccl/nccl_weights.h: one weight version broadcast over NCCL from the trainer's rank 0 to every
// rollout worker of the communicator (issue #17, "weight sync over NCCL").
//
// What travels is the trainer's published weight blob as it is (today fp32: WeightBlob's tensors are
// "F32"; a bf16 blob would travel the same way): first a 64-byte header (version, total bytes, bucket
// size and count, tensor count, CRC-32C of the whole blob), then the blob in buckets of bucket_bytes,
// each one ncclBroadcast under the communicator's deadline. A receiver copies every bucket out to host
// memory as it arrives and, after the last one, checks the byte count, the bucket count and the
// CRC-32C against the header: receive() returns (and the worker may announce the version) only then.
// A mismatch or a missed deadline throws; the caller keeps its old version and re-joins.
//
// Buckets go one at a time through one pinned host buffer and one device buffer of bucket_bytes (a
// pageable copy could block the thread behind the collective, outside any deadline). A root whose
// weights are already on the device broadcasts them in place (send_device), without staging.
#pragma once
#include <cstdint>
#include <vector>

#include "model/nccl/nccl_comm.h"

namespace stride {

struct NcclWeightHeader {
    uint64_t magic = 0;  // kNcclWeightMagic
    int64_t version = -1;
    uint64_t total_bytes = 0;
    uint64_t bucket_bytes = 0;
    uint64_t buckets = 0;
    uint32_t crc32c = 0;  // of the whole blob
    uint32_t tensors = 0;
    uint64_t reserved[2] = {0, 0};
};
static_assert(sizeof(NcclWeightHeader) == 64);

inline constexpr uint64_t kNcclWeightMagic = 0x5457454449525453ull;  // "STRIDEWT"

// The buckets a blob of total_bytes takes.
uint64_t nccl_bucket_count(uint64_t total_bytes, uint64_t bucket_bytes);

class NcclWeightBroadcast {
   public:
    // Allocates the staging buffers (bucket_bytes on the device and pinned on the host) and a stream
    // on the communicator's device.
    NcclWeightBroadcast(NcclComm& comm, size_t bucket_bytes);
    ~NcclWeightBroadcast();
    NcclWeightBroadcast(const NcclWeightBroadcast&) = delete;
    NcclWeightBroadcast& operator=(const NcclWeightBroadcast&) = delete;

    // Root: broadcasts `n` bytes of host memory as `version` (crc32c of those bytes, tensors: how many
    // tensors they hold, for the receiver's check).
    void send(int64_t version, const void* host, size_t n, uint32_t crc32c, uint32_t tensors);
    // Root: the same from device memory (the trainer's weights on the GPU), in place.
    void send_device(int64_t version, const void* device, size_t n, uint32_t crc32c, uint32_t tensors);
    // Every other rank: receives one version into `out` (resized to it). expect_bytes > 0: the size the
    // receiver's model needs. Returns the header once every bucket arrived and the blob's byte count,
    // bucket count and CRC-32C match it; throws stride::Error naming the mismatch otherwise.
    NcclWeightHeader receive(std::vector<char>& out, uint64_t expect_bytes = 0);

   private:
    void broadcast_header(NcclWeightHeader& h);
    void ensure_staging(size_t bucket_bytes);
    NcclComm& comm_;
    size_t bucket_bytes_ = 0;
    void* device_ = nullptr;  // [bucket_bytes_] (+ the header at its start while it travels)
    char* pinned_ = nullptr;  // [bucket_bytes_]
    cudaStream_t stream_ = nullptr;
};

}  // namespace stride
