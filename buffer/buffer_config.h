// buffer/buffer_config.h: the experience buffer's settings (YAML section `buffer:`), with defaults.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/curve_keys.h"

namespace stride {

struct BufferServerConfig {
    std::string job_id = "default";                 // envelopes of any other job are rejected
    std::shared_ptr<const CurveKeys> curve;         // the job's CURVE keys (null: plain sockets)
    std::string endpoint = "tcp://127.0.0.1:5555";  // ROUTER bind address ("tcp://127.0.0.1:*" = any port)
    std::string dir = "buffer.rocksdb";             // RocksDB directory; reopening it recovers everything
    uint32_t group_size = 8;                        // n: a group is complete when it holds n distinct samples
    // Back-pressure: a put that would start a new group while the buffer holds this many samples is
    // answered BUSY and stores nothing. Samples of groups already started are always admitted (so half
    // finished groups cannot deadlock a full buffer); the overshoot is below group_size per open group.
    uint64_t capacity_samples = 65536;
    // Staleness bound η in policy versions; < 0 disables. At a pull with trainer version v, every
    // unleased group holding a sample whose oldest token version is < v - η is deleted and counted.
    int64_t max_staleness = -1;
    // true: an ack means the RocksDB WAL was fsynced (survives power loss). false: the WAL was written
    // to the OS (survives a crash or kill -9 of the buffer, not of the machine).
    bool sync_wal = true;
    // A lease (pulled, uncommitted batch) older than this is released and its groups are pulled again.
    // Keep it well above the longest training step. 0 = never expire.
    uint64_t lease_timeout_ms = 30 * 60 * 1000;
    // false (default): a restarted buffer releases every lease it finds on disk (the trainer is assumed
    // to have restarted too and to pull again). true: leases survive, with a fresh lease_timeout_ms, so a
    // trainer that outlived the buffer can still commit.
    bool keep_leases_on_restart = false;
    int64_t max_message_bytes = 256ll << 20;  // larger messages are dropped by ZeroMQ
    uint32_t max_drain = 256;                 // requests handled per group commit (one RocksDB write + fsync)

    // Validation at the door: a put holding a sample outside the job's limits is refused whole
    // (INVALID_ARGUMENT, naming the sample and the field), so it can never reach (and crash) the
    // trainer. 0 (or < 0 for max_version_ahead) leaves a limit unchecked; the job fills them all
    // (scheduler/roles.cpp, buffer_server_config). Always checked: finite log-probs (<= 0) and reward,
    // versions >= 0, one sample per index_in_group.
    int64_t vocab_size = 0;           // prompt and response token ids must lie in [0, vocab_size)
    int64_t max_position = 0;         // prompt + response tokens (the model's max_position_embeddings)
    int64_t max_response_tokens = 0;  // response tokens (rollout.max_tokens)
    int64_t max_sample_bytes = 0;     // serialized size of one sample
    // token_version and policy_version may be at most the newest trainer version seen in a pull
    // (persisted, so a restarted buffer remembers it; unchecked until the directory's first pull) plus
    // this. The trainer pulls with version v and then publishes v + 1, so producers can be one version
    // ahead: the job uses 1.
    int64_t max_version_ahead = -1;

    // The trainer checkpoint this job resumes from (>= 0), applied when the store is opened, before
    // anything is served: as a ReleaseLeases with resume_step (buffer/README.md, "Progress truth"), so
    // no rollout worker can load an in-flight group or put one before the discarded versions are gone.
    // -1: a fresh start (or a bare buffer).
    int64_t resume_step = -1;
    int64_t resume_version = -1;

    // The audit trail of acknowledgements (empty: none): one line "group_id sample_id" per sample
    // newly stored, appended and flushed before its PutAck is sent. A job writes <run>/acked.log.
    std::string ack_log;

    // Tests only (never set by a job): called after a pull's lease is durable and before its reply is
    // sent, with the batch id, so that a test can kill the buffer in exactly that window.
    std::function<void(uint64_t batch_id)> after_lease_written;
};

}  // namespace stride
