// Metrics hot path and scrape cost, Stride's registry (common/metrics.h: handles over prometheus-cpp,
// served by cpp-httplib) against prometheus-cpp used directly with its own Exposer (Debian's
// prometheus-cpp-dev 1.0.1) in the same run. Before the move onto prometheus-cpp, "stride" here was
// the hand-written registry; bench/results/2026-12-07-metrics.md has both runs.
//   - a labelled counter increment on a pre-resolved handle (1 thread, and 2 threads hammering one
//     series), with a plain std::atomic<uint64_t> fetch_add as the floor;
//   - serializing, and serving over HTTP (GET /metrics on 127.0.0.1, gzip accepted as Prometheus
//     does), a registry of a few thousand series: a third counters, a third gauges, a third
//     12-bucket histograms.
// The last line is the headline: the rule takes prometheus-cpp when its increment costs at
// most 20 ns and a scrape of 3,000 series at most 50 ms.
// Usage: bench_metrics [increments=20000000] [series=3000]
#include <httplib.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/metrics_server.h"

using namespace stride;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// ns per increment with `threads` threads each doing n/threads increments of `inc`, best of 3.
template <class F>
double ns_per_op(long n, int threads, F inc) {
    double best = 1e9;
    for (int rep = 0; rep < 3; ++rep) {
        std::vector<std::thread> ts;
        const auto t0 = Clock::now();
        for (int t = 0; t < threads; ++t)
            ts.emplace_back([&] {
                for (long i = 0; i < n / threads; ++i) inc();
            });
        for (auto& t : ts) t.join();
        best = std::min(best, seconds_since(t0) * 1e9 / (n / threads));  // per op of one thread
    }
    return best;
}

// CPU seconds of the whole process (every thread: the HTTP server's and the client's). On a shared
// machine wall times include waiting for a core; CPU times do not.
double process_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Best of 5 of `fn`, in wall seconds; the best process CPU seconds of the 5 in *cpu if given.
template <class F>
double best_seconds(F fn, double* cpu = nullptr) {
    double best = 1e9, best_cpu = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
        const double c0 = process_cpu_seconds();
        const auto t0 = Clock::now();
        fn();
        best = std::min(best, seconds_since(t0));
        best_cpu = std::min(best_cpu, process_cpu_seconds() - c0);
    }
    if (cpu) *cpu = best_cpu;
    return best;
}

// Best of 5 GET /metrics on 127.0.0.1:port, in seconds; exits on a failed scrape. `encoding` is
// the Accept-Encoding header: "gzip" is what Prometheus sends, "identity" skips compression.
double best_scrape(int port, const char* encoding, size_t* body_bytes, double* cpu = nullptr) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(30);
    const httplib::Headers headers = {{"Accept-Encoding", encoding}};
    return best_seconds(
        [&] {
            auto res = client.Get("/metrics", headers);
            if (!res || res->status != 200) {
                std::fprintf(stderr, "scrape of port %d failed\n", port);
                std::exit(1);
            }
            *body_bytes = res->body.size();
        },
        cpu);
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 20000000;
    const int series = argc > 2 ? std::atoi(argv[2]) : 3000;
    const int families = 30, per_family = std::max(1, series / families);
    const std::vector<double> buckets = exponential_buckets(0.001, 3, 12);

    // ---- increments -----------------------------------------------------------------------------
    MetricsRegistry reg;
    Counter& c = reg.counter("stride_bench_tokens", "bench", kRoleLabels).with({"bench", "rollout", "0"});
    auto preg = std::make_shared<prometheus::Registry>();
    prometheus::Counter& pc = prometheus::BuildCounter()
                                  .Name("stride_bench_tokens_total")
                                  .Help("bench")
                                  .Register(*preg)
                                  .Add({{"job", "bench"}, {"role", "rollout"}, {"worker", "0"}});
    alignas(64) std::atomic<uint64_t> plain{0};

    const double ours1 = ns_per_op(n, 1, [&] { c.inc(); });
    const double prom1 = ns_per_op(n, 1, [&] { pc.Increment(); });
    const double atomic1 = ns_per_op(n, 1, [&] { plain.fetch_add(1, std::memory_order_relaxed); });
    const double ours2 = ns_per_op(n, 2, [&] { c.inc(); });
    const double prom2 = ns_per_op(n, 2, [&] { pc.Increment(); });
    const double atomic2 = ns_per_op(n, 2, [&] { plain.fetch_add(1, std::memory_order_relaxed); });
    if (c.value() != pc.Value()) {
        std::fprintf(stderr, "counters disagree: %.0f vs %.0f\n", c.value(), pc.Value());
        return 1;
    }

    // ---- scrape of `series` series ---------------------------------------------------------------
    MetricsRegistry big;
    auto pbig = std::make_shared<prometheus::Registry>();
    for (int f = 0; f < families; ++f) {
        const std::string name = "stride_bench_family_" + std::to_string(f);
        for (int s = 0; s < per_family; ++s) {
            const std::vector<std::string> lv = {"bench", "rollout", std::to_string(s)};
            const prometheus::Labels pl = {{"job", "bench"}, {"role", "rollout"}, {"worker", lv[2]}};
            if (f % 3 == 0) {
                big.counter(name, "a counter", kRoleLabels).with(lv).inc(s);
                prometheus::BuildCounter()
                    .Name(name + "_total")
                    .Help("a counter")
                    .Register(*pbig)
                    .Add(pl)
                    .Increment(s);
            } else if (f % 3 == 1) {
                big.gauge(name, "a gauge", kRoleLabels).with(lv).set(s * 0.5);
                prometheus::BuildGauge().Name(name).Help("a gauge").Register(*pbig).Add(pl).Set(s * 0.5);
            } else {
                big.histogram(name, "a histogram", kRoleLabels, buckets).with(lv).observe(s);
                prometheus::BuildHistogram()
                    .Name(name)
                    .Help("a histogram")
                    .Register(*pbig)
                    .Add(pl, buckets)
                    .Observe(s);
            }
        }
    }
    size_t ours_bytes = 0, prom_bytes = 0, ours_body = 0, prom_body = 0;
    const double ours_render = best_seconds([&] { ours_bytes = big.render().size(); });
    const double prom_render = best_seconds([&] {
        std::ostringstream out;
        prometheus::TextSerializer().Serialize(out, pbig->Collect());
        prom_bytes = out.str().size();
    });
    MetricsServer server(big, "127.0.0.1", 0);
    double ours_http_cpu = 0, prom_http_cpu = 0;
    const double ours_http = best_scrape(server.port(), "gzip", &ours_body, &ours_http_cpu);
    const double ours_plain = best_scrape(server.port(), "identity", &ours_body);
    // One worker thread, as MetricsServer has. The Exposer adds its own exposer_* series to the body.
    prometheus::Exposer exposer("127.0.0.1:0", 1);
    exposer.RegisterCollectable(pbig);
    const int prom_port = exposer.GetListeningPorts().at(0);
    const double prom_http = best_scrape(prom_port, "gzip", &prom_body, &prom_http_cpu);
    const double prom_plain = best_scrape(prom_port, "identity", &prom_body);

    const int total = families * per_family;
    std::printf("increments: %ld per case, best of 3; scrapes: best of 5\n", n);
    std::printf(
        "1 thread : stride %.2f ns/inc, prometheus-cpp %.2f ns/inc, std::atomic fetch_add %.2f ns/inc\n",
        ours1, prom1, atomic1);
    std::printf(
        "2 threads, one series: stride %.2f ns/inc, prometheus-cpp %.2f ns/inc, one shared std::atomic %.2f "
        "ns/inc (per thread)\n",
        ours2, prom2, atomic2);
    std::printf(
        "serialize %d series: stride render %.2f ms (%zu bytes), prometheus-cpp TextSerializer %.2f ms "
        "(%zu bytes)\n",
        total, ours_render * 1e3, ours_bytes, prom_render * 1e3, prom_bytes);
    std::printf(
        "HTTP GET /metrics, %d series, gzip: stride (cpp-httplib) %.2f ms (%zu bytes of text), "
        "prometheus-cpp Exposer %.2f ms (%zu bytes)\n",
        total, ours_http * 1e3, ours_body, prom_http * 1e3, prom_body);
    std::printf(
        "  process CPU per gzip scrape (server and client threads): stride %.2f ms, prometheus-cpp %.2f ms\n",
        ours_http_cpu * 1e3, prom_http_cpu * 1e3);
    std::printf("HTTP GET /metrics, %d series, no compression: stride %.2f ms, prometheus-cpp %.2f ms\n",
                total, ours_plain * 1e3, prom_plain * 1e3);
    std::printf(
        "prometheus-cpp / stride: increment %.2fx (1 thread), %.2fx (2 threads); serialize %.2fx; HTTP "
        "%.2fx\n",
        prom1 / ours1, prom2 / ours2, prom_render / ours_render, prom_http / ours_http);
    // The rule reads the 1-thread increment (the cost of one increment) and the gzip scrape.
    const bool pass = prom1 <= 20 && prom_http <= 0.050;
    std::printf(
        "prometheus-cpp: %.2f ns/inc (1 thread; %.2f with 2 threads), %.2f ms per gzip scrape of %d series "
        "(stride: %.2f ns, %.2f, %.2f ms); rule <= 20 ns and <= 50 ms: %s\n",
        prom1, prom2, prom_http * 1e3, total, ours1, ours2, ours_http * 1e3, pass ? "PASS" : "FAIL");
    return 0;
}
