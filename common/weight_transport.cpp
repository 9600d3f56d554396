// common/weight_transport.cpp: see weight_transport.h.
#include "common/weight_transport.h"

#include "common/base/error.h"

namespace stride {

const char* weight_transport_name(WeightTransport t) {
    switch (t) {
        case WeightTransport::zmq:
            return "zmq";
        case WeightTransport::shm:
            return "shm";
        case WeightTransport::nccl:
            return "nccl";
    }
    return "?";
}

namespace {

bool both_roles_on_cuda(const JobConfig& cfg) {
    return rollout_device(cfg) == "cuda" && trainer_device(cfg) == "cuda";
}

}  // namespace

std::string weight_transport_refusal(const JobConfig& cfg, bool nccl_built) {
    if (cfg.weights.transport != "nccl") return {};
    if (!nccl_built)
        return "weights.transport: nccl, but this binary was built without NCCL (configure with CUDA and "
               "nccl.h found: `stride: NCCL ON`); use auto, shm or zmq";
    if (!both_roles_on_cuda(cfg))
        return "weights.transport: nccl needs the trainer and the rollout workers on cuda (trainer device " +
               trainer_device(cfg) + ", rollout device " + rollout_device(cfg) + "); use auto, shm or zmq";
    return {};
}

WeightTransport resolve_weight_transport(const JobConfig& cfg, const WeightTransportFacts& facts) {
    const std::string& t = cfg.weights.transport;
    const std::string why = weight_transport_refusal(cfg, facts.nccl_built);
    STRIDE_CHECK(why.empty(), why);
    if (t == "nccl") return WeightTransport::nccl;
    if (t == "shm") return WeightTransport::shm;
    if (t == "zmq") return WeightTransport::zmq;
    STRIDE_CHECK(t == "auto", "weights.transport: '" + t + "' is none of auto, zmq, shm, nccl");
    if (facts.nccl_built && facts.separate_processes && both_roles_on_cuda(cfg)) return WeightTransport::nccl;
    return facts.one_host ? WeightTransport::shm : WeightTransport::zmq;
}

size_t weight_bucket_bytes(const WeightsConfig& w) {
    return static_cast<size_t>(w.bucket_mb * 1024.0 * 1024.0);
}

}  // namespace stride
