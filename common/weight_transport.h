// common/weight_transport.h: which path new weights take from the trainer to the rollout workers
// (weights.transport, issue #17).
//
// zmq: chunks over the trainer's ZeroMQ publisher; shm: the same control, the bytes through a memory
// file on one host; nccl: a broadcast from the trainer's GPU to the workers' GPUs (model/nccl/). The
// ZeroMQ publisher serves every version whatever the transport: it is the CPU path and the fallback
// of a worker that is not (or no longer) in the NCCL group. Tested by
// tests/common/test_weight_transport.cpp.
#pragma once
#include <string>

#include "common/config.h"

namespace stride {

enum class WeightTransport { zmq, shm, nccl };

const char* weight_transport_name(WeightTransport t);

// What the choice depends on beyond the config: known where the roles start.
struct WeightTransportFacts {
    bool nccl_built = false;          // this binary has NCCL (STRIDE_HAVE_NCCL)
    bool separate_processes = false;  // the trainer and the rollout workers are different processes
    bool one_host = true;             // ... and all run on this machine
};

// Why weights.transport cannot be used with this config and binary ("" when it can): nccl is refused
// without NCCL in the binary or with a role on the cpu. Called at load (scheduler/job_config.cpp).
std::string weight_transport_refusal(const JobConfig& cfg, bool nccl_built);

// The transport a job uses. auto: nccl when both roles are on cuda, in separate processes, and NCCL is
// built in; shm on one host; zmq otherwise. Throws Error (naming weights.transport) where
// weight_transport_refusal refuses.
WeightTransport resolve_weight_transport(const JobConfig& cfg, const WeightTransportFacts& facts);

// weights.bucket_mb in bytes.
size_t weight_bucket_bytes(const WeightsConfig& w);

}  // namespace stride
