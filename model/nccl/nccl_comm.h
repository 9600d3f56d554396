// model/nccl/nccl_comm.h: an NCCL communicator that never hangs (issue #17, "deadlines everywhere").
//
// A raw ncclCommInitRank or ncclBroadcast waits forever for a peer that never comes. NcclComm creates
// its communicator non-blocking (ncclConfig_t.blocking = 0) and follows every call with a poll of
// ncclCommGetAsyncError (and of the stream, for collectives) under a deadline that also honours the
// role's stop flag (common/base/deadline_poll.h). On expiry or error it calls ncclCommAbort, counts it
// (on_give_up: the role's metric counter), and throws an error that names the call and the peer
// ranks by their member names ("rank 1 (rollout-0)"). An aborted communicator stays broken: the
// caller forms a new one (re-join, model/nccl/nccl_weights.h) or falls back to ZeroMQ.
//
// Built only when CUDA and NCCL are found (STRIDE_HAVE_NCCL). Tested on a GPU by
// tests/model/test_nccl_comm.cpp (skips without a GPU); the deadline logic itself on the CPU by
// tests/common/test_deadline_poll.cpp.
#pragma once
#include <cuda_runtime_api.h>
#include <nccl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/base/deadline_poll.h"

namespace stride {

// A fresh ncclUniqueId as bytes (NCCL_UNIQUE_ID_BYTES = 128): made by rank 0 and handed to the other
// ranks (over the scheduler's registry, common/nccl_rendezvous.h).
std::string nccl_make_unique_id();

struct NcclCommOptions {
    int rank = 0;
    int nranks = 1;
    int device = 0;         // the CUDA device of this rank
    std::string unique_id;  // nccl_make_unique_id() of rank 0, 128 bytes
    double timeout_s = 60;  // deadline of every call (init included)
    const std::atomic<bool>* stop = nullptr;
    std::vector<std::string> rank_names;  // rank -> member id, for errors ("trainer", "rollout-0")
    // Called when a call gives up (expired, stopped, failed), before the error is thrown: `call` is the
    // function waited on ("ncclCommInitRankConfig", "ncclBroadcast", "ncclCommFinalize", or
    // "cudaMemcpyAsync" for a staging copy behind a collective).
    std::function<void(const std::string& call, WaitOutcome)> on_give_up;
};

class NcclComm {
   public:
    // Joins the communicator: returns once all nranks ranks have joined, throws (after aborting) when
    // they have not within timeout_s.
    explicit NcclComm(NcclCommOptions opt);
    ~NcclComm();  // finalizes under the deadline when healthy, else aborts (never blocks unbounded)
    NcclComm(const NcclComm&) = delete;
    NcclComm& operator=(const NcclComm&) = delete;

    int rank() const { return opt_.rank; }
    int nranks() const { return opt_.nranks; }
    int device() const { return opt_.device; }
    bool broken() const { return comm_ == nullptr; }
    // "rank 2 (rollout-1)"
    std::string rank_name(int rank) const;

    // Broadcasts `bytes` bytes from rank `root`'s `send` into every rank's `recv` (device memory;
    // send == recv in place; `send` is ignored on the other ranks) on `stream`, and waits for it under
    // the deadline. `what` describes the transfer for errors ("version 7, bucket 3 of 12").
    // timeout_s > 0: this call's deadline instead of the communicator's (what is left of a transfer's).
    void broadcast(const void* send, void* recv, size_t bytes, int root, cudaStream_t stream,
                   const std::string& what, double timeout_s = 0);
    // In place on `stream`: `count` elements of `type` (ncclFloat32, ncclFloat64) at `data` (device
    // memory) become their sum over the ranks (ncclSum; ncclAvg for the mean), waited on under the
    // deadline. `what` describes the data for errors ("gradients, bucket 2 of 5"). The trainer ranks'
    // gradient all-reduce (trainer/nccl_collective.h).
    void all_reduce(void* data, size_t count, ncclDataType_t type, ncclRedOp_t op, cudaStream_t stream,
                    const std::string& what);
    // Waits under the deadline for the work queued on `stream` (a copy, say) and the communicator.
    void wait(cudaStream_t stream, const std::string& call, const std::string& peers, double timeout_s = 0);
    // Aborts now (idempotent); the communicator is broken afterwards.
    void abort();

   private:
    // The ranks a call on this rank waits on: every other rank, or only `root` for a receiver.
    std::string peers_of(int root) const;
    NcclCommOptions opt_;
    ncclComm_t comm_ = nullptr;
};

}  // namespace stride
