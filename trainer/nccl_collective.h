// trainer/nccl_collective.h: the trainer ranks' collective on GPUs, over NCCL (one GPU per rank).
//
// The communicator is model/nccl/nccl_comm.h's (non-blocking, every call polled under the deadline,
// ncclCommAbort on expiry); its unique id is made by rank 0 and handed to the others over the ranks'
// ZeroMQ group (trainer/zmq_collective.h), which also stays the channel for host data and the barrier.
// Buffers are device memory. Built only with NCCL (STRIDE_HAVE_NCCL); exercised on a machine with two
// GPUs by tests/trainer/test_nccl_collective.cpp (skips otherwise).
#pragma once
#if defined(STRIDE_HAVE_NCCL)
#include <atomic>
#include <memory>

#include "model/nccl/nccl_comm.h"
#include "trainer/collective.h"
#include "trainer/zmq_collective.h"

namespace stride {

class NcclCollective : public Collective {
   public:
    // Collective over `control`: every rank of it joins, on its CUDA `device`.
    NcclCollective(ZmqCollective& control, int device, double timeout_s, const std::atomic<bool>* stop);
    ~NcclCollective() override;
    int rank() const override { return control_.rank(); }
    int size() const override { return control_.size(); }
    bool host_memory() const override { return false; }
    void all_reduce(float* data, size_t n, ReduceOp op, const std::string& what) override;
    void all_reduce(double* data, size_t n, ReduceOp op, const std::string& what) override;
    void broadcast(float* data, size_t n, int root, const std::string& what) override;
    void barrier(const std::string& what) override { control_.barrier(what); }

   private:
    void reduce(void* data, size_t n, ncclDataType_t type, ReduceOp op, const std::string& what);
    ZmqCollective& control_;
    std::unique_ptr<NcclComm> comm_;
    cudaStream_t stream_ = nullptr;
};

}  // namespace stride
#endif
