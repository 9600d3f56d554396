// buffer/sample_check.h: whether a sample may be stored — its shape (ids, group index, per-token
// fields), and the job's limits (vocabulary, lengths, bytes, finite log-probs and rewards, versions).
// The buffer refuses what fails at the door and, at restart, drops stored groups that would crash
// or poison the trainer.
#pragma once
#include <cstdint>
#include <limits>
#include <string>

#include "buffer/buffer_config.h"
#include "proto/stride.pb.h"

namespace stride {

// The newest policy version a sample may carry (max() = no bound), and where it comes from, for the
// message: the newest trainer version seen in a pull + BufferServerConfig::max_version_ahead.
struct SampleVersionBound {
    int64_t newest = std::numeric_limits<int64_t>::max();
    int64_t trainer_version = -1;
    int64_t ahead = 0;
};

// "" if s may be stored, else why not, naming the sample and the field. at_door false (what an
// earlier buffer stored): only what would crash or poison the trainer counts, not the limits that may
// have changed since (response length, bytes; pass no version bound).
std::string check_sample(const v1::Sample& s, const BufferServerConfig& cfg, bool at_door,
                         const SampleVersionBound& bound = {});

}  // namespace stride
