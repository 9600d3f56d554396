// scheduler/job_metrics.h: the /metrics endpoints of a job, started by `stride run` and `stride role`.
#pragma once
#include <memory>
#include <string>

#include "common/metrics_server.h"

namespace stride {

// `stride run`: serves this process's metrics on metrics.port (when > 0) and prints one line
// `metrics: http://HOST:PORT/metrics` per process of the job — this one, and with launcher
// processes also each role it is about to start (buffer, trainer, rollout-i; port rule in
// common/metrics_server.h). Returns null when metrics are off.
std::unique_ptr<MetricsServer> start_job_metrics(const JobConfig& cfg);

// `stride role ROLE`: serves this role process's metrics on its port by the rule.
std::unique_ptr<MetricsServer> start_role_metrics(const JobConfig& cfg, const std::string& role, int worker);

}  // namespace stride
