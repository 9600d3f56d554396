// Weight sync over ZeroMQ (CPU path): the trainer publishes each new policy version as one immutable
// blob; rollout workers fetch it in chunks, pipelined, each chunk and the whole blob checked with
// CRC-32C, and switch to it only once it is complete. A version is never visible half-written.
//
// Protocol (Envelope bodies from proto/stride.proto, ROUTER on the publisher, DEALER on workers):
//   worker -> Heartbeat{policy_version}        publisher -> WeightUpdate (latest version, tensors,
//                                              total_bytes, crc32; version -1 when none yet)
//   worker -> WeightChunk{version, offset}     publisher -> [WeightChunk{version, offset, crc32}]
//                                              [raw bytes]   (bytes in their own frame, sent zero-copy)
// The publisher keeps the previous version alive too, so a worker that started fetching it while a
// newer one was published can finish.
//
// Same-host fast path: the publisher also puts each version in a memory file (memfd) and announces
// its /proc path in WeightUpdate.shm_path; a worker that can open it (same machine, same user)
// copies the blob from there in one pass, checked against the whole-blob CRC-32C, instead of pulling
// chunks through the kernel's socket buffers (three copies instead of one). Control stays on ZeroMQ.
// With the job's CURVE keys the announcement also carries a keyed hash of the blob (weight_mac.h),
// which the copy must match: a local process that rewrote the file is refused.
//
// Tested by tests/common/test_weight_sync.cpp; bench/common/bench_weight_sync.cpp measures GB/s
// against memcpy.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/messaging.h"

namespace stride {

struct WeightBlob {
    int64_t version = -1;
    std::vector<v1::TensorInfo> tensors;
    std::vector<char> bytes;
    uint32_t crc32c = 0;              // of all bytes (set by publish)
    size_t chunk_bytes = 0;           // set by publish
    std::vector<uint32_t> chunk_crc;  // CRC-32C of each chunk, computed once per version by publish
    // Announced with the version (WeightUpdate.nccl*): the NCCL group generation that broadcasts it
    // (job/weight_group.h), -1 when it goes over ZeroMQ only.
    int64_t nccl_generation = -1;
};

class WeightPublisher {
   public:
    // Binds endpoint (e.g. "tcp://127.0.0.1:*") and serves from a thread of its own.
    // share_memory: also offer each version as a memory file to workers on the same machine.
    // curve: the job's CURVE keys (null: plain sockets, and no keyed hash on the memory file).
    WeightPublisher(std::string job_id, const std::string& endpoint, size_t chunk_bytes = 8u << 20,
                    bool share_memory = true, std::shared_ptr<const CurveKeys> curve = nullptr);
    ~WeightPublisher();
    WeightPublisher(const WeightPublisher&) = delete;
    WeightPublisher& operator=(const WeightPublisher&) = delete;

    std::string endpoint() const { return endpoint_; }
    // Makes `blob` the latest version (computes its checksum) and returns that CRC-32C (what
    // subscribers see as WeightUpdate.crc32). Versions must increase.
    uint32_t publish(WeightBlob blob);
    int64_t latest_version() const;

    uint64_t chunks_served() const { return chunks_served_; }

    struct Published;  // a published blob and its memory file (weight_sync.cpp)
    uint64_t rejected() const { return rejected_; }

   private:
    void serve();
    std::string job_id_;
    size_t chunk_bytes_;
    bool share_memory_;
    std::string mac_key_;  // weight_mac.h; empty without keys
    ZmqContext ctx_;
    ZmqSocket sock_;
    std::string endpoint_;
    mutable std::mutex mu_;
    std::shared_ptr<const Published> latest_, previous_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> chunks_served_{0}, rejected_{0};
    std::thread thread_;
};

struct WeightFetchStats {
    double seconds = 0;
    uint64_t bytes = 0;
    uint64_t chunks = 0;  // 0 when the blob came through shared memory
    bool shared_memory = false;
};

// Whether a WeightUpdate.shm_path may be opened: exactly "/proc/<pid>/fd/<n>" (decimal, no leading
// zeros, pid > 0). Anything else a publisher names (a file, a device, "/proc/self/...", "..") is never
// opened: the worker takes the chunks instead. The file must then also be a memfd (a regular file
// whose link reads "/memfd:...") to be used.
bool is_weight_shm_path(const std::string& path);

class WeightSubscriber {
   public:
    // use_shared_memory: take the same-host fast path when the publisher offers one.
    // curve: the job's CURVE keys (null: plain sockets).
    WeightSubscriber(std::string job_id, const std::string& endpoint, int window = 8,
                     bool use_shared_memory = true, std::shared_ptr<const CurveKeys> curve = nullptr);

    // The latest announcement, or nullopt when the publisher does not answer within timeout_ms.
    std::optional<v1::WeightUpdate> latest(int timeout_ms);

    // Fetches the latest version into `into` if it is newer than have_version; returns false when
    // there is nothing newer (or no answer). `into`'s buffer is reused across versions, so steady
    // state fetches allocate nothing. Every chunk is checked against its CRC-32C and every byte must
    // arrive exactly once; on a mismatch or protocol violation it throws Error and `into` must not be
    // used (its version is set to -1).
    bool fetch_if_newer(int64_t have_version, int timeout_ms, WeightBlob& into,
                        WeightFetchStats* stats = nullptr);
    // Convenience form returning a new blob.
    std::optional<WeightBlob> fetch_if_newer(int64_t have_version, int timeout_ms,
                                             WeightFetchStats* stats = nullptr);
    // When the publisher last answered (a WeightUpdate); the subscriber's construction until then. A
    // caller bounds a silent publisher by it (deadlines.weights_s).
    std::chrono::steady_clock::time_point last_answer() const { return last_answer_; }
    const std::string& endpoint() const { return endpoint_; }
    // Versions the caller receives another way (the NCCL weight group, job/weight_group.h): for an
    // announcement `skip` returns true for, fetch_if_newer returns false without fetching.
    void set_skip(std::function<bool(const v1::WeightUpdate&)> skip) { skip_ = std::move(skip); }

   private:
    std::string job_id_;
    std::string endpoint_;
    std::function<bool(const v1::WeightUpdate&)> skip_;
    int window_;
    bool use_shm_;
    std::string mac_key_;  // weight_mac.h; empty without keys
    ZmqContext ctx_;
    std::optional<ZmqSocket> sock_;
    std::chrono::steady_clock::time_point last_answer_ = std::chrono::steady_clock::now();
    void reset_socket();
};

}  // namespace stride
