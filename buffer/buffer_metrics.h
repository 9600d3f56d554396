// buffer/buffer_metrics.h: exports the experience buffer's BufferStats (buffer_stats.h) as Prometheus
// series. The serving thread calls update() whenever it republishes its stats; gauges are copied,
// counters grow by the difference to the previous update (so several buffers in one process, as in
// tests, add up instead of fighting over one value).
#pragma once
#include <string>

#include "buffer/buffer_stats.h"
#include "common/metrics.h"

namespace stride {

class BufferMetrics {
   public:
    explicit BufferMetrics(const std::string& job, MetricsRegistry& registry = MetricsRegistry::global());
    void update(const BufferStats& now);

   private:
    struct Gauged {
        Gauge* gauge;
        uint64_t BufferStats::*field;
    };
    struct Counted {
        Counter* counter;
        uint64_t BufferStats::*field;
    };
    std::vector<Gauged> gauges_;
    std::vector<Counted> counters_;
    BufferStats last_;
};

}  // namespace stride
