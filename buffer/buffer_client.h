// buffer/buffer_client.h: what rollout workers and the trainer use to talk to the experience buffer.
// Every call is safe to retry, and the client retries on its own:
//   put     - BUSY and timeouts are retried with exponential back-off; the buffer deduplicates by
//             sample_id, so a put whose ack was lost is acknowledged again, not stored twice.
//   pull    - carries a request id, so a retry after a lost reply returns the batch already leased.
//   commit  - a retried commit of a committed batch is acknowledged (already_committed).
//   save_partials - replaces a worker's whole in-flight set, so a retry writes the same thing again.
// Errors that retrying cannot fix (invalid sample, wrong job or schema, unknown batch) throw
// BufferRejected (a stride::Error) with the buffer's code and message; a deadline that passes throws
// PeerUnreachable (peer "buffer"), naming the endpoint and the key that set the deadline.
//
// Stop: with BufferClientOptions::stop set, a call made or running while the flag is true makes no
// further attempt and waits at most stop_grace_ms for the reply of the attempt under way (so a live
// buffer still answers a stopping caller, a dead one costs at most stop_grace_ms). If that attempt
// gets no answer, pull and pull_wait return an empty Batch (batch_id 0, as when no batch is ready)
// and every other call throws BufferStopped.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "common/base/peer_error.h"
#include "common/config.h"
#include "common/messaging.h"

namespace stride {

struct BufferClientOptions {
    int call_timeout_ms = 5000;  // one request/reply; then the socket is rebuilt and retried
    int deadline_ms = 60000;     // give up (throw) after this long of BUSY or timeouts
    std::string deadline_key = "deadlines.buffer_s";  // what set deadline_ms, for the error
    int backoff_initial_ms = 5;  // first wait after BUSY/timeout, doubled up to backoff_max_ms
    int backoff_max_ms = 1000;
    int poll_interval_ms = 2;            // pull_wait: time between two pulls while no batch is ready
    std::string trainer_id = "trainer";  // identifies pulls, for idempotent retries
    // The caller's stop flag (may be null; must outlive the client). Once it is true, no call retries
    // or backs off any more, and the reply of the attempt under way is waited for at most stop_grace_ms.
    const std::atomic<bool>* stop = nullptr;
    int stop_grace_ms = 500;
};

// A role's options: deadlines.buffer_s bounds every call (each attempt at most 5 s of it), `stop` (may
// be null) cuts retries short.
BufferClientOptions buffer_client_options(const DeadlinesConfig& deadlines, const std::atomic<bool>* stop);

// The buffer refused a request for good (anything but BUSY): retrying the same request cannot help.
class BufferRejected : public Error {
   public:
    BufferRejected(v1::ErrorCode code, const std::string& what) : Error(what), code_(code) {}
    v1::ErrorCode code() const { return code_; }

   private:
    v1::ErrorCode code_;
};

// The caller's stop flag was set before the buffer answered.
class BufferStopped : public Error {
   public:
    using Error::Error;
};

class BufferClient {
   public:
    BufferClient(ZmqContext& ctx, const std::string& endpoint, const std::string& job_id,
                 BufferClientOptions options = {});

    // Returns once every sample is durable in the buffer. partial_owner: a rollout worker's id whose
    // in-flight records of these groups are deleted in the same write (see save_partials).
    v1::PutAck put(const std::vector<v1::Sample>& samples, const std::string& partial_owner = "");
    // Replaces the in-flight groups stored for worker_id with `groups`; returns once durable.
    v1::SavePartialsAck save_partials(const std::string& worker_id,
                                      const std::vector<v1::InFlightGroup>& groups);
    // Every stored in-flight group, of every worker.
    std::vector<v1::InFlightGroup> load_partials();
    // One attempt at leasing num_groups complete groups; batch_id 0 = not enough complete groups yet
    // (with allow_partial: none at all).
    v1::Batch pull(uint32_t num_groups, int64_t trainer_version, bool allow_partial = false);
    // Polls pull() every poll_interval_ms until a batch is leased or wait_ms passes (then batch_id 0).
    v1::Batch pull_wait(uint32_t num_groups, int64_t trainer_version, int wait_ms,
                        bool allow_partial = false);
    // trainer_step 0: the batch's groups are deleted now. S > 0: they are trained by step S and kept
    // until checkpoint_durable(S' >= S) (buffer/README.md, "Progress truth").
    v1::CommitAck commit(uint64_t batch_id, int64_t trainer_step = 0);
    // The checkpoint of `step` is in place: the groups trained by steps <= step are done for good.
    v1::CheckpointDurableAck checkpoint_durable(int64_t step);
    // Tells the buffer this trainer (re)started: every uncommitted lease is released for replay.
    v1::ReleaseLeasesAck release_leases(const std::string& reason);
    // ... and that it resumed from the checkpoint of resume_step, holding policy resume_version.
    v1::ReleaseLeasesAck resume(const std::string& reason, int64_t resume_step, int64_t resume_version);
    v1::BufferStats stats();

    // Counters of this client, for metrics: how often the buffer pushed back or timed out.
    uint64_t busy_retries() const { return busy_retries_; }
    uint64_t timeout_retries() const { return timeout_retries_; }

   private:
    // Sends env until a non-BUSY reply arrives; throws on a non-retryable Error, the deadline or stop.
    v1::Envelope call(const v1::Envelope& env, const char* what);
    bool stopping() const { return opt_.stop && opt_.stop->load(); }

    RequestClient rpc_;
    BufferClientOptions opt_;
    uint64_t next_request_id_;
    uint64_t busy_retries_ = 0;
    uint64_t timeout_retries_ = 0;
};

}  // namespace stride
