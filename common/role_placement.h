// Where a role's compute runs: its CPU set from `placement.*`, else `threads` compute threads.
#pragma once
#include <string>
#include <vector>

#include "common/config.h"

namespace stride {

// CPUs of a role ("trainer", "rollout", "buffer"; others: none) and rollout worker index. Empty: not
// pinned.
std::vector<int> role_cpus(const JobConfig& cfg, const std::string& role, int worker);

// Applies the role's placement to the calling thread: pins it to role_cpus() and sizes its OpenMP
// (and BLAS) team to their count; unpinned roles get `threads` compute threads when it is > 0.
// Returns a line for the log ("trainer: CPUs 1 (1 compute thread)"). Throws Error naming the key when
// a CPU is not available here.
std::string apply_role_placement(const JobConfig& cfg, const std::string& role, int worker);

}  // namespace stride
