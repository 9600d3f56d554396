// job/weight_group_nccl.h: the WeightChannelFactory of the real thing: an NCCL communicator under
// deadlines (model/nccl/nccl_comm.h) and the bucket channel over it (model/nccl/nccl_weights.h), for
// job/weight_group.h. The CPU tests use a fake factory instead; this one is exercised on a GPU by
// bench/gpu/device_checks.sh (tests/model/test_nccl_comm.cpp covers the channel itself).
#pragma once
#include <atomic>

#include "job/weight_group.h"

namespace stride {

// A factory for `member`'s channels on CUDA device `device` (0: the first one CUDA_VISIBLE_DEVICES
// shows). device_source: the trainer's buckets are read from device memory. Give-ups inside NCCL calls
// (init, broadcast) are counted by the caller (weight_group.cpp). Throws Error when this binary has no
// NCCL (weights.transport: nccl is refused at load then, so this is never reached by a job).
WeightChannelFactory nccl_channel_factory(int device, bool device_source);
// A fresh ncclUniqueId (the trainer's, for each generation); throws Error without NCCL.
std::string nccl_new_unique_id();

}  // namespace stride
