// common/metrics_server.h: serves a MetricsRegistry at GET /metrics (text format 0.0.4, written by
// prometheus-cpp's TextSerializer) over HTTP (Debian's cpp-httplib), from one thread of its own.
// prometheus-cpp's own Exposer is not used: see common/CMakeLists.txt.
//
// Port rule, so that several Stride processes on one machine never collide: with base port P
// (`metrics.port`, 0 = off) a process serves on
//   P          the `stride run` process (all roles, launcher threads; the scheduler, launcher processes)
//   P + 1      role buffer          (launcher processes, or `stride role buffer`)
//   P + 2      role trainer
//   P + 3      role scheduler        (`stride role scheduler` alone)
//   P + 4 + i  role rollout, worker i
#pragma once
#include <memory>
#include <string>

#include "common/config.h"
#include "common/metrics.h"

namespace stride {

class MetricsServer {
   public:
    // Binds bind:port right away (port 0: an ephemeral port, see port()) and serves until destroyed.
    // Throws stride::Error when the address cannot be bound.
    MetricsServer(MetricsRegistry& registry, const std::string& bind, int port);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    int port() const { return port_; }
    std::string url() const;  // http://BIND:PORT/metrics

   private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::string bind_;
    int port_ = 0;
};

// The port of a process by the rule above; role "" is the `stride run` process.
int metrics_port_for(int base_port, const std::string& role, int worker = 0);
std::string metrics_url(const std::string& bind, int port);

// What every Stride process does at start: when cfg.metrics.port > 0, registers the process gauges
// (labels job=cfg.name, role, worker) and serves the global registry on the rule's port. Returns
// null when metrics are off. `role` "" means the `stride run` process (its role label is "job").
std::unique_ptr<MetricsServer> start_process_metrics(const JobConfig& cfg, const std::string& role,
                                                     int worker = 0);

}  // namespace stride
