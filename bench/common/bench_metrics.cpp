// Metrics hot path and scrape cost, each against its peer in the same run:
//   - a labelled counter increment on a pre-resolved handle vs a plain std::atomic<uint64_t>
//     fetch_add (1 thread, and 2 threads hammering one series vs one shared atomic);
//   - rendering / serving over HTTP a registry of a few thousand series.
// Usage: bench_metrics [increments=50000000] [series=3000]
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 50000000;
    const int series = argc > 2 ? std::atoi(argv[2]) : 3000;

    MetricsRegistry reg;
    Counter& c = reg.counter("stride_bench_tokens", "bench", kRoleLabels).with({"bench", "rollout", "0"});
    alignas(64) std::atomic<uint64_t> plain{0};

    const double counter1 = ns_per_op(n, 1, [&] { c.inc(); });
    const double atomic1 = ns_per_op(n, 1, [&] { plain.fetch_add(1, std::memory_order_relaxed); });
    const double counter2 = ns_per_op(n, 2, [&] { c.inc(); });
    const double atomic2 = ns_per_op(n, 2, [&] { plain.fetch_add(1, std::memory_order_relaxed); });

    // A registry of `series` series: a third counters, a third gauges, a third histograms (12 buckets).
    MetricsRegistry big;
    const int families = 30, per_family = std::max(1, series / families);
    for (int f = 0; f < families; ++f) {
        const std::string name = "stride_bench_family_" + std::to_string(f);
        for (int s = 0; s < per_family; ++s) {
            const std::vector<std::string> lv = {"bench", "rollout", std::to_string(s)};
            if (f % 3 == 0)
                big.counter(name, "a counter", kRoleLabels).with(lv).inc(s);
            else if (f % 3 == 1)
                big.gauge(name, "a gauge", kRoleLabels).with(lv).set(s * 0.5);
            else
                big.histogram(name, "a histogram", kRoleLabels, exponential_buckets(0.001, 3, 12))
                    .with(lv)
                    .observe(s);
        }
    }
    double render_s = 1e9;
    size_t bytes = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = Clock::now();
        bytes = big.render().size();
        render_s = std::min(render_s, seconds_since(t0));
    }
    MetricsServer server(big, "127.0.0.1", 0);
    httplib::Client client("127.0.0.1", server.port());
    double http_s = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = Clock::now();
        auto res = client.Get("/metrics");
        if (!res || res->status != 200) {
            std::fprintf(stderr, "scrape failed\n");
            return 1;
        }
        http_s = std::min(http_s, seconds_since(t0));
    }

    std::printf("increments: %ld per case, best of 3\n", n);
    std::printf("1 thread : labelled counter %.2f ns/inc, std::atomic fetch_add %.2f ns/inc\n", counter1,
                atomic1);
    std::printf("2 threads: labelled counter %.2f ns/inc, one shared std::atomic %.2f ns/inc (per thread)\n",
                counter2, atomic2);
    std::printf("scrape of %d series (%zu bytes of text): render %.2f ms, HTTP GET /metrics %.2f ms\n",
                families * per_family, bytes, render_s * 1e3, http_s * 1e3);
    std::printf(
        "labelled counter increment: %.2f ns = %.2fx a plain std::atomic increment (1 thread); %.2fx with 2 "
        "threads\n",
        counter1, counter1 / atomic1, counter2 / atomic2);
    return 0;
}
