// common/metrics.h: Prometheus metrics — a registry of counters, gauges and histograms with labels,
// rendered in the text exposition format 0.0.4 (common/metrics_text.h) and served over HTTP by
// common/metrics_server.h.
//
// Hot paths resolve a labelled series once (family.with({...}) returns a stable handle) and then
// only touch the handle. A counter increment is one relaxed atomic add on a cache-line padded cell
// picked by the calling thread, so threads never share a line and nothing is locked; the scrape
// sums the cells. Gauges and histograms are updated per request or per step, not per token, so they
// use plain atomics without sharding.
//
// MetricsRegistry::global() is the process-wide registry that the roles use and /metrics serves
// (the one allowed singleton besides logging); tests construct their own.
//
// Conventions: names start with `stride_`; series carry the labels job, role, worker; counter
// families are named without `_total` here and exposed with it.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace stride {

// Cells per counter. Threads are assigned cells round robin on first use, so up to this many
// threads increment without ever contending for a cache line.
inline constexpr int kCounterShards = 16;

class Counter {
   public:
    // Adds n (whole events: tokens, requests, bytes). One relaxed atomic add, no lock.
    void inc(uint64_t n = 1) { cells_[shard()].v.fetch_add(n, std::memory_order_relaxed); }
    // Adds a fractional amount (seconds). Rare, so a CAS loop on one shared cell is fine.
    void add(double x);
    double value() const;

   private:
    struct alignas(64) Cell {
        std::atomic<uint64_t> v{0};
    };
    static int shard();
    Cell cells_[kCounterShards];
    alignas(64) std::atomic<double> fractional_{0.0};
};

class Gauge {
   public:
    void set(double x) { v_.store(x, std::memory_order_relaxed); }
    void add(double x);
    double value() const { return v_.load(std::memory_order_relaxed); }

   private:
    std::atomic<double> v_{0.0};
};

class Histogram {
   public:
    // `upper_bounds` strictly increasing; the +Inf bucket is implicit.
    explicit Histogram(const std::vector<double>& upper_bounds);
    void observe(double x);
    struct Snapshot {
        std::vector<double> upper_bounds;  // without +Inf
        std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
        double sum = 0;
        uint64_t count = 0;
    };
    Snapshot snapshot() const;

   private:
    std::vector<double> bounds_;
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bucket (not cumulative), last is +Inf
    std::atomic<double> sum_{0.0};
};

enum class MetricType { counter, gauge, histogram };

// One metric name with its help text and label names; holds one series per distinct label values.
// with() locks and may allocate: call it once and keep the reference, which stays valid as long as
// the registry.
template <class Series>
class Family {
   public:
    Family(std::string name, std::string help, std::vector<std::string> label_names, MetricType type,
           std::vector<double> buckets = {});
    Series& with(const std::vector<std::string>& label_values);
    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    MetricType type() const { return type_; }
    const std::vector<double>& buckets() const { return buckets_; }
    // Visits every series (under the family's lock) in label order.
    void for_each(const std::function<void(const std::vector<std::string>&, const Series&)>& fn) const;

   private:
    std::string name_, help_;
    std::vector<std::string> label_names_;
    MetricType type_;
    std::vector<double> buckets_;
    mutable std::mutex mu_;
    std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Bucket helpers: {start, start*factor, ...} (count bounds) and {start, start+width, ...}.
std::vector<double> exponential_buckets(double start, double factor, int count);
std::vector<double> linear_buckets(double start, double width, int count);

class MetricsRegistry {
   public:
    MetricsRegistry() = default;
    MetricsRegistry(const MetricsRegistry&) = delete;
    MetricsRegistry& operator=(const MetricsRegistry&) = delete;

    static MetricsRegistry& global();

    // Registering a name again returns the existing family if type and labels match (so every role
    // instance can declare its metrics) and throws stride::Error otherwise. Counter names must not
    // end in `_total` (it is added on exposition); names must match [a-zA-Z_:][a-zA-Z0-9_:]*.
    CounterFamily& counter(const std::string& name, const std::string& help,
                           const std::vector<std::string>& labels);
    GaugeFamily& gauge(const std::string& name, const std::string& help,
                       const std::vector<std::string>& labels);
    HistogramFamily& histogram(const std::string& name, const std::string& help,
                               const std::vector<std::string>& labels, const std::vector<double>& buckets);

    // Runs before every render (refreshes gauges read from elsewhere: /proc, the buffer's stats).
    // Hooks live as long as the registry; use them for process-wide sources only.
    void add_collect_hook(std::function<void()> hook);

    // The text exposition format 0.0.4, families sorted by name.
    std::string render() const;
    // Every exposed metric name (counters with `_total`; histograms as their base name), sorted.
    std::vector<std::string> metric_names() const;

   private:
    template <class F>
    F& get_or_add(std::map<std::string, std::unique_ptr<F>>& families, const std::string& name,
                  const std::string& help, const std::vector<std::string>& labels, MetricType type,
                  const std::vector<double>& buckets);
    void check_name_free(const std::string& name, MetricType type) const;

    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
    std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_;
    std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
    std::vector<std::function<void()>> hooks_;
};

// The labels every Stride series carries, in this order.
inline const std::vector<std::string> kRoleLabels = {"job", "role", "worker"};

}  // namespace stride
