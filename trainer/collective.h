// trainer/collective.h: what the data-parallel trainer ranks (trainer.ranks) need from each other,
// as one interface with two implementations: trainer/zmq_collective.h (CPU, between processes over
// ZeroMQ, a fixed reduction order) and trainer/nccl_collective.h (NCCL on the GPU).
//
// Every call is collective (every rank calls it, in the same order) and runs under a deadline
// (deadlines.collective_s) that also honours the role's stop flag: a rank that died or hangs makes
// the others throw CollectiveError naming it, never wait forever.
#pragma once
#include <cstddef>
#include <string>

#include "common/base/error.h"

namespace stride {

enum class ReduceOp { sum, avg };

// A collective gave up: a rank died, missed the deadline, or this rank was stopped. Distinct from
// Error so that the trainer never takes it for a bad batch (which it would quarantine).
class CollectiveError : public Error {
   public:
    explicit CollectiveError(const std::string& what) : Error(what) {}
};

class Collective {
   public:
    virtual ~Collective() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    // Whether buffers are host memory (the CPU collective) or the GPU's (NCCL).
    virtual bool host_memory() const = 0;
    // In place: data becomes the element-wise sum (or mean) over the ranks, bitwise the same on every
    // rank. `what` names the call in errors ("gradients, bucket 2 of 5").
    virtual void all_reduce(float* data, size_t n, ReduceOp op, const std::string& what) = 0;
    virtual void all_reduce(double* data, size_t n, ReduceOp op, const std::string& what) = 0;
    // In place: every rank's data becomes rank `root`'s.
    virtual void broadcast(float* data, size_t n, int root, const std::string& what) = 0;
    virtual void barrier(const std::string& what) = 0;
};

// all_reduce in buckets of at most bucket_elems floats (one message, one NCCL call each), so that a
// model's gradients never need a second full-size buffer.
void all_reduce_bucketed(Collective& c, float* data, size_t n, size_t bucket_elems, ReduceOp op,
                         const std::string& what);

}  // namespace stride
