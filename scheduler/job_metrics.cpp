// scheduler/job_metrics.cpp: see job_metrics.h.
#include "scheduler/job_metrics.h"

#include <cstdio>

namespace stride {

std::unique_ptr<MetricsServer> start_job_metrics(const JobConfig& cfg) {
    auto server = start_process_metrics(cfg, "");
    if (!server) return nullptr;
    std::printf("metrics: %s\n", server->url().c_str());
    if (cfg.launcher == "processes") {
        const int base = cfg.metrics.port;
        std::printf("metrics: %s\n", metrics_url(cfg.metrics.bind, metrics_port_for(base, "buffer")).c_str());
        std::printf("metrics: %s\n",
                    metrics_url(cfg.metrics.bind, metrics_port_for(base, "trainer")).c_str());
        for (int i = 0; i < cfg.rollout.workers; ++i)
            std::printf("metrics: %s\n",
                        metrics_url(cfg.metrics.bind, metrics_port_for(base, "rollout", i)).c_str());
    }
    std::fflush(stdout);
    return server;
}

std::unique_ptr<MetricsServer> start_role_metrics(const JobConfig& cfg, const std::string& role, int worker) {
    return start_process_metrics(cfg, role, worker);
}

}  // namespace stride
