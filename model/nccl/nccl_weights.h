// model/nccl/nccl_weights.h: the weight channel over NCCL (issue #17, "weight sync over NCCL"): what
// model/weight_transfer.h's orchestration (header, bf16 buckets, CRC-32C check, one deadline for the
// whole transfer) calls on a GPU. Every call is one ncclBroadcast from rank 0 (the trainer) under the
// communicator's deadline (model/nccl/nccl_comm.h), which aborts the communicator when it expires.
//
// The root converts each bucket of fp32 weights to bf16 in a device staging buffer: from its device
// weights with a kernel (model/cuda/bf16_convert.h), or from host weights on the host into pinned
// memory and up. A receiver copies each bucket down to pinned memory, continues the CRC-32C over the
// bf16 bytes and converts them into its fp32 storage. Buckets go one at a time through one staging
// buffer (a pageable copy could block the thread behind the collective, outside any deadline).
// Tested on a GPU by tests/model/test_nccl_comm.cpp (skips without one).
#pragma once
#include <cstdint>

#include "model/nccl/nccl_comm.h"
#include "model/weight_channel.h"

namespace stride {

class NcclWeightChannel : public WeightChannel {
   public:
    // device_source: the root's send_bucket reads device memory (the trainer's weights on its GPU);
    // otherwise host memory. Makes a stream on the communicator's device.
    NcclWeightChannel(NcclComm& comm, bool device_source);
    ~NcclWeightChannel() override;
    NcclWeightChannel(const NcclWeightChannel&) = delete;
    NcclWeightChannel& operator=(const NcclWeightChannel&) = delete;

    int rank() const override { return comm_.rank(); }
    int nranks() const override { return comm_.nranks(); }
    bool broken() const override { return comm_.broken(); }
    void abort() override { comm_.abort(); }
    void broadcast_bytes(void* bytes, size_t n, const std::string& what, const CallDeadline& d) override;
    void send_bucket(const float* src, size_t count, const std::string& what, const CallDeadline& d) override;
    uint32_t receive_bucket(float* dst, size_t count, uint32_t crc, const std::string& what,
                            const CallDeadline& d) override;

   private:
    void ensure_staging(size_t bytes);
    NcclComm& comm_;
    bool device_source_;
    size_t staging_bytes_ = 0;
    void* device_ = nullptr;  // [staging_bytes_]
    char* pinned_ = nullptr;  // [staging_bytes_]
    cudaStream_t stream_ = nullptr;
};

}  // namespace stride
