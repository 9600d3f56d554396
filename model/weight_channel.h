// model/weight_channel.h: one member's end of the channel a weight version is broadcast over (issue
// #17). Rank 0 (the trainer) sends, every other rank (a rollout worker) receives; each call is a
// collective that every rank must enter. The NCCL channel (model/nccl/nccl_weights.h) is one; the CPU
// tests drive the same orchestration (model/weight_transfer.h) through a channel of threads
// (tests/model/fake_weight_channel.h).
//
// Contract of every call: it returns once this rank's part is done, or it gives up within
// `d.timeout_s` (or at *d.stop), and then the channel is aborted for good (ncclCommAbort: broken()
// is true, every later call throws) and DeadlineError / Error names the call and the peers waited on.
// On the wire a weight is bf16 (rounded to nearest even from the fp32 master, model/dtype.h).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace stride {

struct CallDeadline {
    double timeout_s = 60;
    const std::atomic<bool>* stop = nullptr;
};

class WeightChannel {
   public:
    virtual ~WeightChannel() = default;
    virtual int rank() const = 0;
    virtual int nranks() const = 0;
    virtual bool broken() const = 0;
    // Aborts now (idempotent); broken() afterwards.
    virtual void abort() = 0;

    // Root: broadcasts the `n` bytes at `bytes` (host memory); others: receive them into `bytes`.
    virtual void broadcast_bytes(void* bytes, size_t n, const std::string& what, const CallDeadline& d) = 0;
    // Root: broadcasts `count` fp32 weights from `src` (in the memory the channel's sender reads: host
    // or device) as bf16.
    virtual void send_bucket(const float* src, size_t count, const std::string& what,
                             const CallDeadline& d) = 0;
    // Others: receives `count` bf16 weights into `dst` (host fp32; the worker's storage) and returns
    // `crc` continued (CRC-32C) over the bf16 bytes as they arrived.
    virtual uint32_t receive_bucket(float* dst, size_t count, uint32_t crc, const std::string& what,
                                    const CallDeadline& d) = 0;
};

}  // namespace stride
