// scheduler/config_hash.cpp: see config_hash.h.
#include "scheduler/config_hash.h"

#include <fmt/format.h>

#include <cstdint>

namespace stride {

namespace {

// The keys that are each machine's own: where this role writes, its CPUs and threads, its log and
// metrics endpoint, where it keeps the job's key set. Two roles of one job may differ in them.
JobConfig without_per_host_keys(JobConfig cfg) {
    const JobConfig defaults;
    cfg.run_dir = defaults.run_dir;
    cfg.buffer.dir = defaults.buffer.dir;
    cfg.metrics = defaults.metrics;
    cfg.log = defaults.log;
    cfg.threads = defaults.threads;
    cfg.placement = defaults.placement;
    cfg.network.keys_dir = defaults.network.keys_dir;
    return cfg;
}

}  // namespace

std::string job_config_hash(const JobConfig& cfg) {
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char c : dump_job_config(without_per_host_keys(cfg))) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return fmt::format("{:016x}", h);
}

}  // namespace stride
