// scheduler/role_supervisor.h: restarts of a role inside a job (issue #18). A rollout worker started
// with --scheduler and recovery.rollout_restarts > 0 becomes a small supervisor process that runs the
// worker as a child (a fresh `stride role rollout ...`, same arguments) and starts it again when it
// dies: the new worker registers under the same instance (STRIDE_INSTANCE), fetches the latest
// weights from the trainer, and resumes the in-flight groups its predecessor saved in the buffer.
#pragma once
#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"

namespace stride {

struct RestartPolicy {
    int max_restarts = 0;
    double backoff_s = 1.0;  // before the first restart; doubles, at most backoff_max_s
    double backoff_max_s = 30.0;
};

// Runs `argv` as a child (PR_SET_PDEATHSIG: it never outlives the supervisor) and starts it again when
// it ends with anything but exit 0 (a signal, a crash, a non-zero exit) while *stop is false, after
// the back-off, at most max_restarts times. *stop is passed on to the child as SIGTERM. Prints
// "NAME: pid N" for each start and "NAME: restart K of M in S s after STATUS" for each restart.
// Returns the last child's exit code (128 + signal when a signal ended it).
int supervise(const std::string& name, const std::vector<std::string>& argv, const RestartPolicy& policy,
              const std::atomic<bool>& stop);

// `stride role` calls this first: for a rollout worker with --scheduler and restarts configured, in the
// process that is not yet supervised (no STRIDE_SUPERVISED), supervises a child running the same
// command line and returns its exit code; nullopt otherwise (run the role here).
std::optional<int> supervise_role_if_configured(const JobConfig& cfg, const std::string& role,
                                                const std::string& scheduler, int argc, char** argv,
                                                const std::atomic<bool>& stop);

}  // namespace stride
