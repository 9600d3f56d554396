// scheduler/role_supervisor.h: restarts of a role inside a job (issue #18). A role started with
// --scheduler whose recovery.<role>_restarts is > 0 becomes a small supervisor process that runs the
// role as a child (a fresh `stride role ...`, same arguments) and starts it again when it dies; srun
// steps and Kubernetes pods restart the same way (the pod's restartPolicy stays the outer layer).
// Every start registers as the same instance (STRIDE_INSTANCE) with its restart count
// (STRIDE_RESTARTS, which run_summary.json adds up per role).
//   rollout  fetches the latest weights and resumes the in-flight groups its predecessor saved
//   buffer   `--restarted`: opens its RocksDB directory again, at the port it had; clients retry
//   trainer  `--restarted`: from its last checkpoint, once the rollout workers have paused
//            (scheduler/registry.h), with the weights at the port they had
#pragma once
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"

namespace stride {

struct RestartPolicy {
    std::string key;  // the recovery.* key of max_restarts, for messages
    int max_restarts = 0;
    std::vector<std::string> restart_args;  // appended to argv from the first restart on
    double backoff_s = 1.0;                 // before the first restart; doubles, at most backoff_max_s
    double backoff_max_s = 30.0;
};

// Runs `argv` as a child (PR_SET_PDEATHSIG: it never outlives the supervisor) and starts it again when
// it ends with anything but exit 0 (a signal, a crash, a non-zero exit) while *stop is false, after
// the back-off, at most max_restarts times. *stop is passed on to the child as SIGTERM. Prints
// "NAME: pid N" for each start and "NAME: restart K of M in S s after STATUS" for each restart.
// Returns the last child's exit code (128 + signal when a signal ended it).
int supervise(const std::string& name, const std::vector<std::string>& argv, const RestartPolicy& policy,
              const std::atomic<bool>& stop);

// `stride role` calls this first: for a buffer, trainer or rollout worker with --scheduler whose
// restarts are configured, in the
// process that is not yet supervised (no STRIDE_SUPERVISED), supervises a child running the same
// command line and returns its exit code; nullopt otherwise (run the role here).
std::optional<int> supervise_role_if_configured(const JobConfig& cfg, const std::string& role,
                                                const std::string& scheduler, int argc, char** argv,
                                                const std::atomic<bool>& stop);

}  // namespace stride
