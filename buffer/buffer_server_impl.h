// buffer/buffer_server_impl.h: the buffer's request loop state, shared by the files that implement it
// (internal to buffer/; include only from buffer/buffer_*.cpp):
//   buffer_server.cpp     opening, the loop (group commit), dispatch of requests, stats
//   buffer_recover.cpp    what a restarted buffer rebuilds from RocksDB
//   buffer_put.cpp        PutSamples: validation, staging, the group commit's write and acks
//   buffer_pull.cpp       PullBatch: stale drops, leases, retried pulls
//   buffer_progress.cpp   CommitBatch, ReleaseLeases, CheckpointDurable, resumes, lease expiry
//   buffer_partials.cpp   rollout workers' in-flight groups (SavePartials, LoadPartials)
#pragma once
#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "buffer/buffer_metrics.h"
#include "buffer/buffer_server.h"
#include "buffer/group_index.h"
#include "buffer/sample_store.h"
#include "common/messaging.h"

namespace stride {

namespace buffer_impl {

constexpr int kIdlePollMs = 20;            // how long the loop waits for a request before housekeeping
constexpr size_t kCommittedMemory = 1024;  // committed batch ids remembered for idempotent commits
constexpr uint32_t kBusyRetryAfterMs = 50;

inline int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

inline int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// What staleness looks at: the oldest policy version that produced any token of the sample.
inline int64_t oldest_version(const v1::Sample& s) {
    if (s.token_version_size() == 0) return s.policy_version();
    return *std::min_element(s.token_version().begin(), s.token_version().end());
}

// What a resume looks at: the newest policy version that produced any token of the sample.
inline int64_t newest_version(const v1::Sample& s) {
    if (s.token_version_size() == 0) return s.policy_version();
    return std::max(s.policy_version(),
                    *std::max_element(s.token_version().begin(), s.token_version().end()));
}

inline SampleRef sample_ref(const v1::Sample& s, size_t bytes) {
    return {s.sample_id(), bytes, oldest_version(s), newest_version(s), s.index_in_group()};
}

inline std::string pending_key(const std::string& group_id, const std::string& sample_id) {
    return group_id + '\0' + sample_id;
}

inline std::string index_key(const std::string& group_id, uint32_t index_in_group) {
    return group_id + '\0' + std::to_string(index_in_group);
}

}  // namespace buffer_impl

struct BufferServer::Impl {
    explicit Impl(const BufferServerConfig& c);

    void run();
    void handle(Request& req);
    void handle_put(Request& req, const v1::Envelope& env);
    void flush_puts();
    void handle_pull(Request& req, const v1::Envelope& env);
    void handle_commit(Request& req, const v1::Envelope& env);
    void handle_release(Request& req, const v1::Envelope& env);
    void handle_checkpoint_durable(Request& req, const v1::Envelope& env);
    // Deletes the groups trained by steps <= step and remembers them as done (into wb; the index and
    // `done` change only through apply_durable once wb is written). Returns their sample count.
    uint64_t plan_durable(int64_t step, StoreBatch& wb, std::vector<uint64_t>* batches);
    void apply_durable(const std::vector<uint64_t>& batches);
    // The trainer resumed from the checkpoint of `step` (policy `version`): see buffer/README.md.
    v1::ReleaseLeasesAck resume_from(int64_t step, int64_t version);
    void handle_stats(Request& req);
    void handle_save_partials(Request& req, const v1::Envelope& env);
    void handle_load_partials(Request& req);
    void expire_leases();
    void recover();
    // "" if s may be stored, else why not (naming the sample and field). at_door false (recovery of
    // what an earlier buffer stored): only what would crash or poison the trainer counts, not the
    // limits that may have changed since (response length, bytes, versions ahead).
    std::string validate_sample(const v1::Sample& s, bool at_door = true) const;
    // Ends leases (expiry or release) in one write; returns groups released, or -1 on a write error.
    int64_t end_leases(const std::vector<uint64_t>& ids);
    bool fill_batch(const std::vector<std::string>& group_ids, v1::Batch* batch);
    void reply(Request& req, const v1::Envelope& env) { sock.reply(req, encode_envelope(env)); }
    void reject(Request& req, v1::ErrorCode code, const std::string& message);
    void publish_stats();

    BufferServerConfig cfg;
    ZmqContext ctx;
    SampleStore store;
    ReplySocket sock;
    GroupIndex index;
    BufferStats counters;                  // touched only by the serving thread
    BufferMetrics prometheus{cfg.job_id};  // /metrics twin of `counters`
    std::set<uint64_t> committed;
    // Groups trained by a checkpointed step -> the step that trained them: a put of them again is
    // acknowledged, not stored. A resume from an older checkpoint forgets those of later steps.
    std::unordered_map<std::string, int64_t> done;
    // Group id -> prompt id of what a resume deleted and nobody put again since: each ReleaseLeasesAck
    // lists them (redispatch_prompt_ids) so the trainer can have the dispatcher hand them out again.
    // Stored too ('r' records), so a buffer restarted before the trainer asked still knows them.
    std::map<std::string, std::string> redispatch;
    uint64_t next_batch_id = 1;
    struct LastPull {
        uint64_t request_id = 0;
        uint64_t batch_id = 0;
    };
    std::unordered_map<std::string, LastPull> last_pull;  // trainer_id -> its last leasing pull

    // Puts staged for the next group commit.
    struct StagedSample {
        std::string group_id;
        SampleRef ref;
    };
    struct PendingPut {
        Request req;
        v1::PutAck ack;
    };
    std::unique_ptr<StoreBatch> staged_batch = std::make_unique<StoreBatch>();
    std::vector<StagedSample> staged;
    std::vector<PendingPut> pending;
    std::unordered_map<std::string, uint32_t> pending_group_counts;
    std::unordered_set<std::string> pending_keys;
    std::unordered_set<std::string> pending_indices;  // index_key of staged samples
    // The newest trainer version named by a pull (persisted; -1: none yet): the upper bound of
    // sample versions (cfg.max_version_ahead).
    int64_t max_trainer_version = -1;

    std::ofstream ack_log;  // cfg.ack_log, when set

    std::atomic<bool> stop_requested{false};
    std::thread thread;
    mutable std::mutex published_mutex;
    BufferStats published;
    std::string published_failure;  // store.failure(), for other threads
    std::string bound_endpoint;
};

}  // namespace stride
