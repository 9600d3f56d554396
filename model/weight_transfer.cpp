// model/weight_transfer.cpp: see weight_transfer.h.
#include "model/weight_transfer.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/base/crc32c.h"
#include "common/base/deadline_poll.h"
#include "common/base/error.h"
#include "model/dtype.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

std::string bucket_text(int64_t version, uint64_t i, uint64_t n) {
    return "version " + std::to_string(version) + ", bucket " + std::to_string(i + 1) + " of " +
           std::to_string(n);
}

// The whole transfer's deadline: each call gets what is left of it.
class TransferClock {
   public:
    TransferClock(WeightChannel& ch, const TransferOptions& opt) : ch_(ch), opt_(opt), t0_(Clock::now()) {}
    CallDeadline next(const std::string& what) {
        const double left = opt_.timeout_s - std::chrono::duration<double>(Clock::now() - t0_).count();
        if (opt_.stop && *opt_.stop) {
            ch_.abort();
            throw DeadlineError("weight transfer (" + what + "): stopped; aborted", WaitOutcome::stopped);
        }
        if (left <= 0) {
            ch_.abort();
            throw DeadlineError("weight transfer (" + what + "): not done within weights.timeout_s = " +
                                    std::to_string(opt_.timeout_s) + " s; aborted",
                                WaitOutcome::expired);
        }
        return {left, opt_.stop};
    }

   private:
    WeightChannel& ch_;
    const TransferOptions& opt_;
    Clock::time_point t0_;
};

}  // namespace

uint64_t weight_bucket_count(uint64_t elements, uint64_t bucket_elems) {
    STRIDE_CHECK(bucket_elems > 0, "weight transfer: bucket of 0 weights");
    return (elements + bucket_elems - 1) / bucket_elems;
}

uint32_t bf16_wire_crc32c(const float* w, size_t n) {
    uint16_t block[4096];
    uint32_t crc = 0;
    for (size_t i = 0; i < n; i += 4096) {
        const size_t len = std::min<size_t>(4096, n - i);
        for (size_t j = 0; j < len; ++j) block[j] = f32_to_bf16(w[i + j]);
        crc = crc32c(block, len * sizeof(uint16_t), crc);
    }
    return crc;
}

void send_weight_version(WeightChannel& ch, int64_t version, const float* src, size_t elements,
                         uint32_t wire_crc, uint32_t tensors, const TransferOptions& opt) {
    STRIDE_CHECK(ch.rank() == 0, "weight transfer: only rank 0 (the trainer) sends");
    TransferClock clock(ch, opt);
    WeightWireHeader h;
    h.magic = kWeightWireMagic;
    h.version = version;
    h.elements = elements;
    h.bucket_elems = opt.bucket_elems;
    h.buckets = weight_bucket_count(elements, opt.bucket_elems);
    h.crc32c = wire_crc;
    h.tensors = tensors;
    ch.broadcast_bytes(&h, sizeof(h), "weight header of version " + std::to_string(version),
                       clock.next("header"));
    for (uint64_t i = 0; i < h.buckets; ++i) {
        const size_t first = i * h.bucket_elems, count = std::min<size_t>(h.bucket_elems, elements - first);
        const std::string what = bucket_text(version, i, h.buckets);
        ch.send_bucket(src + first, count, what, clock.next(what));
    }
}

WeightWireHeader receive_weight_version(WeightChannel& ch, std::vector<float>& into, size_t expect_elements,
                                        const TransferOptions& opt) {
    STRIDE_CHECK(ch.rank() != 0, "weight transfer: rank 0 (the trainer) sends, it does not receive");
    TransferClock clock(ch, opt);
    WeightWireHeader h;
    ch.broadcast_bytes(&h, sizeof(h), "weight header", clock.next("header"));
    STRIDE_CHECK(
        h.magic == kWeightWireMagic,
        "weight transfer: the header from rank 0 is not a weight header (another collective in flight?)");
    const std::string v = "weight transfer: version " + std::to_string(h.version);
    STRIDE_CHECK(expect_elements == 0 || h.elements == expect_elements,
                 v + " has " + std::to_string(h.elements) + " weights, this worker's model needs " +
                     std::to_string(expect_elements));
    STRIDE_CHECK(h.bucket_elems > 0 && h.buckets == weight_bucket_count(h.elements, h.bucket_elems),
                 v + " announces " + std::to_string(h.buckets) + " buckets of " +
                     std::to_string(h.bucket_elems) + " weights for " + std::to_string(h.elements));
    into.resize(h.elements);
    uint32_t crc = 0;
    uint64_t received = 0;
    for (uint64_t i = 0; i < h.buckets; ++i) {
        const size_t first = i * h.bucket_elems, count = std::min<size_t>(h.bucket_elems, h.elements - first);
        const std::string what = bucket_text(h.version, i, h.buckets);
        crc = ch.receive_bucket(into.data() + first, count, crc, what, clock.next(what));
        received += count;
    }
    STRIDE_CHECK(received == h.elements, v + ": received " + std::to_string(received) + " of " +
                                             std::to_string(h.elements) + " weights");
    STRIDE_CHECK(crc == h.crc32c, v + " arrived with CRC-32C " + std::to_string(crc) + ", the trainer sent " +
                                      std::to_string(h.crc32c) + ": not used");
    return h;
}

}  // namespace stride
