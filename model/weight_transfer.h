// model/weight_transfer.h: one weight version over a WeightChannel (issue #17, "weight sync over
// NCCL"): the orchestration that the NCCL channel and the CPU tests' channel share.
//
// The root first broadcasts a 64-byte header (version, weight count, bucket size and count, tensor
// count, CRC-32C of the whole bf16 wire image), then the weights in buckets of bucket_elems, each one
// collective. A receiver writes every bucket into its staging storage as it arrives and, after the
// last one, checks the weight count, the bucket count and the CRC-32C against the header: only then
// does receive_weight_version return, and only then may the worker adopt the version. A mismatch, a
// missed deadline (of one call, or of the whole transfer: TransferOptions::timeout_s) or a stop
// throws; the caller keeps its old version. Tested on the CPU by tests/model/test_weight_transfer.cpp,
// on a GPU by tests/model/test_nccl_comm.cpp.
#pragma once
#include <atomic>
#include <cstdint>
#include <vector>

#include "model/weight_channel.h"

namespace stride {

struct WeightWireHeader {
    uint64_t magic = 0;  // kWeightWireMagic
    int64_t version = -1;
    uint64_t elements = 0;      // fp32 weights in the version (bf16 on the wire)
    uint64_t bucket_elems = 0;  // per bucket (the last one may be shorter)
    uint64_t buckets = 0;
    uint32_t crc32c = 0;  // of the elements * 2 bytes of the bf16 wire image
    uint32_t tensors = 0;
    uint64_t reserved[2] = {0, 0};
};
static_assert(sizeof(WeightWireHeader) == 64);

inline constexpr uint64_t kWeightWireMagic = 0x3146424449525453ull;  // "STRIDBF1"

// The buckets `elements` weights take at `bucket_elems` each.
uint64_t weight_bucket_count(uint64_t elements, uint64_t bucket_elems);
// CRC-32C of the bf16 wire image of `n` fp32 weights (what the header carries; the trainer computes it
// from its host copy of the weights).
uint32_t bf16_wire_crc32c(const float* w, size_t n);

struct TransferOptions {
    double timeout_s = 60;  // the whole transfer (weights.timeout_s); each call gets what is left
    const std::atomic<bool>* stop = nullptr;
    size_t bucket_elems = 32u << 20;  // weights.bucket_mb * 2^20 / 2 (bf16)
};

// Root. `src` [elements] is in the memory the channel sends from; wire_crc = bf16_wire_crc32c of the
// same weights.
void send_weight_version(WeightChannel& ch, int64_t version, const float* src, size_t elements,
                         uint32_t wire_crc, uint32_t tensors, const TransferOptions& opt);
// Other ranks. `into` is resized to the version's weights; expect_elements > 0: the count the
// receiver's model needs. Returns the header once every bucket arrived and matched it.
WeightWireHeader receive_weight_version(WeightChannel& ch, std::vector<float>& into, size_t expect_elements,
                                        const TransferOptions& opt);

}  // namespace stride
