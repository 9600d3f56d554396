// job/weight_group_nccl.cpp: see weight_group_nccl.h.
#include "job/weight_group_nccl.h"

#include "common/base/error.h"

#if defined(STRIDE_HAVE_NCCL)
#include "model/nccl/nccl_comm.h"
#include "model/nccl/nccl_weights.h"
#endif

namespace stride {

#if defined(STRIDE_HAVE_NCCL)

namespace {

// A channel that owns its communicator.
class OwnedNcclChannel : public WeightChannel {
   public:
    OwnedNcclChannel(NcclCommOptions opt, bool device_source)
        : comm_(std::make_unique<NcclComm>(std::move(opt))), ch_(*comm_, device_source) {}
    int rank() const override { return ch_.rank(); }
    int nranks() const override { return ch_.nranks(); }
    bool broken() const override { return ch_.broken(); }
    void abort() override { ch_.abort(); }
    void broadcast_bytes(void* bytes, size_t n, const std::string& what, const CallDeadline& d) override {
        ch_.broadcast_bytes(bytes, n, what, d);
    }
    void send_bucket(const float* src, size_t count, const std::string& what,
                     const CallDeadline& d) override {
        ch_.send_bucket(src, count, what, d);
    }
    uint32_t receive_bucket(float* dst, size_t count, uint32_t crc, const std::string& what,
                            const CallDeadline& d) override {
        return ch_.receive_bucket(dst, count, crc, what, d);
    }

   private:
    std::unique_ptr<NcclComm> comm_;
    NcclWeightChannel ch_;
};

}  // namespace

WeightChannelFactory nccl_channel_factory(int device, bool device_source) {
    return [device, device_source](const v1::NcclGroup& g,
                                   const CallDeadline& d) -> std::unique_ptr<WeightChannel> {
        NcclCommOptions o;
        o.rank = g.rank();
        o.nranks = g.members_size();
        o.device = device;
        o.unique_id = g.unique_id();
        o.timeout_s = d.timeout_s;
        o.stop = d.stop;
        o.rank_names.assign(g.members().begin(), g.members().end());
        return std::make_unique<OwnedNcclChannel>(std::move(o), device_source);
    };
}

std::string nccl_new_unique_id() {
    return nccl_make_unique_id();
}

#else

WeightChannelFactory nccl_channel_factory(int, bool) {
    throw Error("weights.transport: nccl, but this binary was built without NCCL");
}

std::string nccl_new_unique_id() {
    throw Error("weights.transport: nccl, but this binary was built without NCCL");
}

#endif

}  // namespace stride
