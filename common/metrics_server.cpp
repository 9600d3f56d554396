// common/metrics_server.cpp: see metrics_server.h.
#include "common/metrics_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "common/base/error.h"
#include "common/listen_policy.h"
#include "common/process_metrics.h"

namespace stride {

struct MetricsServer::Impl {
    httplib::Server http;
    std::thread thread;
};

MetricsServer::MetricsServer(MetricsRegistry& registry, const std::string& bind, int port)
    : impl_(std::make_unique<Impl>()), bind_(bind) {
    // Scrapes come every few seconds from one Prometheus: one worker thread is plenty, and keeps a
    // 2-core machine's thread count down (httplib's default pool has 8+).
    impl_->http.new_task_queue = [] { return new httplib::ThreadPool(1); };
    // httplib's default also sets SO_REUSEPORT, which lets a second process bind the same port and
    // silently take half of the scrapes; with SO_REUSEADDR alone a taken port is an error.
    impl_->http.set_socket_options([](socket_t sock) {
        int yes = 1;
        setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<void*>(&yes), sizeof(yes));
    });
    impl_->http.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& res) {
        res.set_content(registry.render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    impl_->http.Get("/", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("Stride metrics exporter: see /metrics\n", "text/plain");
    });
    if (port == 0) {
        port_ = impl_->http.bind_to_any_port(bind);
        STRIDE_CHECK(port_ > 0, "metrics: cannot bind an ephemeral port on " + bind);
    } else {
        STRIDE_CHECK(impl_->http.bind_to_port(bind, port),
                     "metrics: cannot bind " + bind + ":" + std::to_string(port) +
                         " (in use? see the port rule in common/metrics_server.h)");
        port_ = port;
    }
    impl_->thread = std::thread([this] {
        pthread_setname_np(pthread_self(), "stride-metrics");
        impl_->http.listen_after_bind();
    });
    // stop() is a no-op until the server runs: wait for it, or a quick destruction would hang in join.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!impl_->http.is_running() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

MetricsServer::~MetricsServer() {
    impl_->http.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

std::string MetricsServer::url() const {
    return metrics_url(bind_, port_);
}

std::string metrics_url(const std::string& bind, int port) {
    return "http://" + bind + ":" + std::to_string(port) + "/metrics";
}

int metrics_port_for(int base_port, const std::string& role, int worker) {
    if (role.empty()) return base_port;
    if (role == "buffer") return base_port + 1;
    if (role == "trainer") return base_port + 2;
    if (role == "scheduler") return base_port + 3;
    if (role == "rollout") return base_port + 4 + worker;
    throw Error("metrics: no port rule for role '" + role + "'");
}

std::unique_ptr<MetricsServer> start_process_metrics(const JobConfig& cfg, const std::string& role,
                                                     int worker) {
    if (cfg.metrics.port <= 0) return nullptr;
    const int port = metrics_port_for(cfg.metrics.port, role, worker);
    STRIDE_CHECK(port <= 65535,
                 "metrics: port " + std::to_string(port) + " of role " + role + " is above 65535");
    // Allowed (metrics carry no secrets), but whoever reaches the port learns what the job is doing.
    if (!is_loopback_host(cfg.metrics.bind))
        spdlog::warn(
            "metrics.bind: {} is not a loopback address: /metrics on port {} (job name, progress, "
            "rewards) is readable by anyone who can reach this machine",
            cfg.metrics.bind, port);
    register_process_metrics(MetricsRegistry::global(), cfg.name, role.empty() ? "job" : role,
                             std::to_string(worker));
    return std::make_unique<MetricsServer>(MetricsRegistry::global(), cfg.metrics.bind, port);
}

}  // namespace stride
