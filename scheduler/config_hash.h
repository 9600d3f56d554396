// scheduler/config_hash.h: the identity of a job's resolved config, which every role started with
// --scheduler presents when it registers (a role with another config is refused).
#pragma once
#include <string>

#include "common/config.h"

namespace stride {

// 16 hex digits: FNV-1a (64 bit) of dump_job_config(cfg), every key resolved, leaving out the keys
// that belong to one machine (run_dir, buffer.dir, metrics.*, log.*, threads, placement.*). Not a
// secret and not a MAC: it tells configs apart, it does not authenticate anyone.
std::string job_config_hash(const JobConfig& cfg);

}  // namespace stride
