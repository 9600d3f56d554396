// scheduler/cluster_role.h: one role of a job on a machine of its own,
// `stride role NAME --config FILE --scheduler tcp://HOST:PORT` (issue #18). The role binds its
// channels (the config's bind keys, or this host on a free port), registers them with the scheduler's
// registry (scheduler/registry.h) and learns the others' from it: it needs nothing else, and shares no
// filesystem with the other roles (the trainer's checkpoints and the buffer's directory are its own).
//
//   scheduler  the registry (network.scheduler_bind or --scheduler) and, once the trainer has
//              registered, the prompt dispatcher; exits when the job is done and every role was told
//   buffer     the experience buffer; serves until the job is done
//   trainer    SFT (sft.enabled) or resume, trains, checkpoints, tells the scheduler when it finished
//   rollout    one rollout worker (--worker I); pauses while a restarted trainer resumes
//
// Restarted inside the job (--restarted, from scheduler/role_supervisor.h), the buffer opens its
// directory again without a roll-back and the trainer resumes from its last checkpoint; each binds the
// port its predecessor announced, so the others' sockets reconnect to it.
//
// With metrics.port > 0 every role also offers its /metrics URL as "metrics/<id>" (buffer, trainer,
// rollout-I, scheduler), and the scheduler keeps <run>/scrape_targets.json, a Prometheus file_sd list
// of them, so one scrape config finds every role wherever it runs.
#pragma once
#include <atomic>
#include <string>

#include "common/config.h"

namespace stride {

struct ClusterRoleArgs {
    std::string role;        // scheduler | buffer | trainer | rollout
    int worker = 0;          // rollout worker index
    std::string scheduler;   // the registry: where to bind (scheduler) or connect (the others)
    std::string advertise;   // the host others reach this role at when it binds every interface
    int metrics_port = 0;    // this process's /metrics port (metrics.port > 0), offered as metrics/<id>
    bool restarted = false;  // its supervisor started it again (buffer, trainer: scheduler/role_supervisor.h)
};

// Runs the role until the job is done, *stop, or the scheduler is lost. Returns the exit code.
int run_cluster_role(const JobConfig& cfg, const ClusterRoleArgs& args, std::atomic<bool>& stop);

// The host a role advertises for wildcard binds: --advertise, else $STRIDE_ADVERTISE_HOST, else the
// machine's host name.
std::string advertise_host(const std::string& flag);

// The endpoint a channel binds: the key's value, or (empty) a free port on loopback when the scheduler
// is on loopback and on every interface otherwise; checked like the key (common/bind_endpoint.h).
std::string cluster_bind(const std::string& key, const std::string& value, const JobConfig& cfg,
                         const std::string& scheduler);

}  // namespace stride
