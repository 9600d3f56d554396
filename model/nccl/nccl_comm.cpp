// model/nccl/nccl_comm.cpp: see nccl_comm.h.
#include "model/nccl/nccl_comm.h"

#include <cstring>
#include <utility>

namespace stride {

namespace {

std::string nccl_text(ncclComm_t comm, ncclResult_t r) {
    std::string s = ncclGetErrorString(r);
    const char* last = comm ? ncclGetLastError(comm) : nullptr;
    if (last && *last) s += std::string(" (") + last + ")";
    return s;
}

void check_cuda(cudaError_t e, const std::string& what) {
    STRIDE_CHECK(e == cudaSuccess, what + ": " + cudaGetErrorString(e));
}

// One NCCL call in flight: done when the communicator has no call in progress and, for work queued on
// a stream, the stream has drained. Aborting it aborts the whole communicator (NCCL has no finer
// cancel); `*comm` is nulled so that the owner knows it is broken.
class NcclCallOp : public AsyncOp {
   public:
    NcclCallOp(ncclComm_t* comm, cudaStream_t stream) : comm_(comm), stream_(stream) {}
    AsyncPoll poll() override {
        ncclResult_t async = ncclSuccess;
        const ncclResult_t r = ncclCommGetAsyncError(*comm_, &async);
        if (r != ncclSuccess) return {AsyncState::failed, "ncclCommGetAsyncError: " + nccl_text(*comm_, r)};
        if (async == ncclInProgress) return {};
        if (async != ncclSuccess) return {AsyncState::failed, nccl_text(*comm_, async)};
        if (!stream_) return {AsyncState::done, {}};
        const cudaError_t q = cudaStreamQuery(stream_);
        if (q == cudaErrorNotReady) return {};
        if (q != cudaSuccess) return {AsyncState::failed, std::string("CUDA: ") + cudaGetErrorString(q)};
        return {AsyncState::done, {}};
    }
    void abort() override {
        if (*comm_) ncclCommAbort(*comm_);
        *comm_ = nullptr;
    }

   private:
    ncclComm_t* comm_;
    cudaStream_t stream_;
};

}  // namespace

std::string nccl_make_unique_id() {
    ncclUniqueId id;
    const ncclResult_t r = ncclGetUniqueId(&id);
    STRIDE_CHECK(r == ncclSuccess, std::string("ncclGetUniqueId: ") + ncclGetErrorString(r));
    return std::string(id.internal, sizeof(id.internal));
}

NcclComm::NcclComm(NcclCommOptions opt) : opt_(std::move(opt)) {
    STRIDE_CHECK(opt_.nranks >= 1 && opt_.rank >= 0 && opt_.rank < opt_.nranks,
                 "NCCL: rank " + std::to_string(opt_.rank) + " of " + std::to_string(opt_.nranks) +
                     " is not a rank of the communicator");
    STRIDE_CHECK(opt_.unique_id.size() == sizeof(ncclUniqueId::internal),
                 "NCCL: the unique id has " + std::to_string(opt_.unique_id.size()) + " bytes, not " +
                     std::to_string(sizeof(ncclUniqueId::internal)));
    check_cuda(cudaSetDevice(opt_.device), "NCCL: cudaSetDevice(" + std::to_string(opt_.device) + ")");
    ncclUniqueId id;
    std::memcpy(id.internal, opt_.unique_id.data(), sizeof(id.internal));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // every call returns at once; completion is polled under the deadline
    const ncclResult_t r = ncclCommInitRankConfig(&comm_, opt_.nranks, id, opt_.rank, &config);
    const std::string call =
        "ncclCommInitRankConfig(rank " + rank_name(opt_.rank) + " of " + std::to_string(opt_.nranks) + ")";
    if (r != ncclSuccess && r != ncclInProgress) {
        if (comm_) ncclCommAbort(comm_);
        comm_ = nullptr;
        if (opt_.on_give_up) opt_.on_give_up("ncclCommInitRankConfig", WaitOutcome::failed);
        throw Error(call + ": " + nccl_text(nullptr, r));
    }
    wait(nullptr, call, peers_of(-1));
}

NcclComm::~NcclComm() {
    if (!comm_) return;
    // Finalize flushes outstanding work and may wait on peers: under the deadline, else abort.
    try {
        const ncclResult_t r = ncclCommFinalize(comm_);
        if (r == ncclSuccess || r == ncclInProgress) wait(nullptr, "ncclCommFinalize", peers_of(-1));
    } catch (const std::exception&) {
        // wait() aborted the communicator already; a destructor has no one to tell but the counter.
    }
    if (comm_) ncclCommDestroy(comm_);
    comm_ = nullptr;
}

std::string NcclComm::rank_name(int rank) const {
    std::string s = std::to_string(rank);
    if (rank >= 0 && rank < static_cast<int>(opt_.rank_names.size()) && !opt_.rank_names[rank].empty())
        s += " (" + opt_.rank_names[rank] + ")";
    return s;
}

std::string NcclComm::peers_of(int root) const {
    if (root >= 0 && root != opt_.rank) return "rank " + rank_name(root);
    std::string s;
    for (int r = 0; r < opt_.nranks; ++r)
        if (r != opt_.rank) s += (s.empty() ? "ranks " : ", ") + rank_name(r);
    return s.empty() ? "no peer (a single rank)" : s;
}

void NcclComm::wait(cudaStream_t stream, const std::string& call, const std::string& peers,
                    double timeout_s) {
    STRIDE_CHECK(comm_, call + ": the NCCL communicator was aborted earlier; form a new one");
    NcclCallOp op(&comm_, stream);
    DeadlineOptions d;
    d.timeout_s = timeout_s > 0 ? timeout_s : opt_.timeout_s;
    d.stop = opt_.stop;
    d.call = "NCCL " + call;
    d.peers = peers;
    const std::string fn = call.substr(0, call.find('('));
    if (opt_.on_give_up) d.on_give_up = [this, fn](WaitOutcome w) { opt_.on_give_up(fn, w); };
    wait_with_deadline(op, d);
}

void NcclComm::broadcast(const void* send, void* recv, size_t bytes, int root, cudaStream_t stream,
                         const std::string& what, double timeout_s) {
    const std::string call =
        "ncclBroadcast(" + what + ", " + std::to_string(bytes) + " bytes, root " + rank_name(root) + ")";
    STRIDE_CHECK(comm_, "NCCL " + call + ": the communicator was aborted earlier; form a new one");
    check_cuda(cudaSetDevice(opt_.device), "NCCL " + call + ": cudaSetDevice");
    const ncclResult_t r = ncclBroadcast(send, recv, bytes, ncclUint8, root, comm_, stream);
    if (r != ncclSuccess && r != ncclInProgress) {
        const std::string text = nccl_text(comm_, r);
        abort();
        if (opt_.on_give_up) opt_.on_give_up("ncclBroadcast", WaitOutcome::failed);
        throw Error("NCCL " + call + ": " + text + "; aborted");
    }
    wait(stream, call, peers_of(root), timeout_s);
}

void NcclComm::all_reduce(void* data, size_t count, ncclDataType_t type, ncclRedOp_t op, cudaStream_t stream,
                          const std::string& what) {
    const std::string call = "ncclAllReduce(" + what + ", " + std::to_string(count) + " elements)";
    STRIDE_CHECK(comm_, "NCCL " + call + ": the communicator was aborted earlier; form a new one");
    check_cuda(cudaSetDevice(opt_.device), "NCCL " + call + ": cudaSetDevice");
    const ncclResult_t r = ncclAllReduce(data, data, count, type, op, comm_, stream);
    if (r != ncclSuccess && r != ncclInProgress) {
        const std::string text = nccl_text(comm_, r);
        abort();
        if (opt_.on_give_up) opt_.on_give_up("ncclAllReduce", WaitOutcome::failed);
        throw Error("NCCL " + call + ": " + text + "; aborted");
    }
    wait(stream, call, peers_of(-1));
}

void NcclComm::abort() {
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
}

}  // namespace stride
