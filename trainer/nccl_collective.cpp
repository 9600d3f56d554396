// trainer/nccl_collective.cpp: see nccl_collective.h.
#include "trainer/nccl_collective.h"

#if defined(STRIDE_HAVE_NCCL)
#include <fmt/format.h>

namespace stride {

NcclCollective::NcclCollective(ZmqCollective& control, int device, double timeout_s,
                               const std::atomic<bool>* stop)
    : control_(control) {
    std::string id = control.rank() == 0 ? nccl_make_unique_id() : std::string();
    control.broadcast_bytes(id, 0, "NCCL unique id of the trainer ranks");
    NcclCommOptions o;
    o.rank = control.rank();
    o.nranks = control.size();
    o.device = device;
    o.unique_id = id;
    o.timeout_s = timeout_s;
    o.stop = stop;
    for (int r = 0; r < o.nranks; ++r) o.rank_names.push_back("trainer-rank-" + std::to_string(r));
    try {
        comm_ = std::make_unique<NcclComm>(o);
    } catch (const Error& e) {
        throw CollectiveError(fmt::format("trainer rank {}: {}", o.rank, e.what()));
    }
    STRIDE_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking) == cudaSuccess,
                 "trainer ranks: cudaStreamCreate failed");
}

NcclCollective::~NcclCollective() {
    comm_.reset();
    if (stream_) cudaStreamDestroy(stream_);
}

void NcclCollective::reduce(void* data, size_t n, ncclDataType_t type, ReduceOp op, const std::string& what) {
    try {
        comm_->all_reduce(data, n, type, op == ReduceOp::sum ? ncclSum : ncclAvg, stream_, what);
    } catch (const Error& e) {  // the communicator is aborted: this group is done
        throw CollectiveError(fmt::format("trainer rank {} of {}: {}", rank(), size(), e.what()));
    }
}

void NcclCollective::all_reduce(float* data, size_t n, ReduceOp op, const std::string& what) {
    reduce(data, n, ncclFloat32, op, what);
}

void NcclCollective::all_reduce(double* data, size_t n, ReduceOp op, const std::string& what) {
    reduce(data, n, ncclFloat64, op, what);
}

void NcclCollective::broadcast(float* data, size_t n, int root, const std::string& what) {
    try {
        comm_->broadcast(data, data, n * sizeof(float), root, stream_, what);
    } catch (const Error& e) {
        throw CollectiveError(fmt::format("trainer rank {} of {}: {}", rank(), size(), e.what()));
    }
}

}  // namespace stride
#endif
