// common/metrics.h: Prometheus metrics — counters, gauges and histograms with labels, kept in a
// prometheus-cpp registry (Debian's prometheus-cpp-dev 1.0.1), rendered by its TextSerializer and
// served at /metrics by common/metrics_server.h.
//
// The classes here are thin handles over prometheus-cpp's, so that the roles keep short call sites
// (`family.with({...}).inc()`) and Stride's conventions are checked in one place. Hot paths resolve a
// labelled series once (family.with({...}) returns a stable handle) and then only touch the handle:
// a counter increment is prometheus-cpp's Counter::Increment, a compare-and-swap loop on one atomic
// double (no lock; see bench_metrics for its cost against a plain atomic add). Histograms take
// prometheus-cpp's per-series mutex on every observation, which keeps buckets, sum and count
// consistent; they are updated per request or per step, not per token.
//
// MetricsRegistry::global() is the process-wide registry that the roles use and /metrics serves
// (the one allowed singleton besides logging); tests construct their own.
//
// Conventions: names start with `stride_`; series carry the labels job, role, worker; counter
// families are named without `_total` here and exposed with it.
#pragma once
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace stride {

class Counter {
   public:
    explicit Counter(prometheus::Counter& c) : c_(c) {}
    // Adds n (whole events: tokens, requests, bytes).
    void inc(uint64_t n = 1) { c_.Increment(static_cast<double>(n)); }
    // Adds a fractional amount (seconds); counters never go down, so x <= 0 is ignored.
    void add(double x) {
        if (x > 0) c_.Increment(x);
    }
    double value() const { return c_.Value(); }

   private:
    prometheus::Counter& c_;
};

class Gauge {
   public:
    explicit Gauge(prometheus::Gauge& g) : g_(g) {}
    void set(double x) { g_.Set(x); }
    void add(double x) { g_.Increment(x); }
    double value() const { return g_.Value(); }

   private:
    prometheus::Gauge& g_;
};

class Histogram {
   public:
    // `upper_bounds` strictly increasing; the +Inf bucket is implicit.
    Histogram(prometheus::Histogram& h, std::vector<double> upper_bounds)
        : h_(h), bounds_(std::move(upper_bounds)) {}
    void observe(double x) { h_.Observe(x); }
    struct Snapshot {
        std::vector<double> upper_bounds;  // without +Inf
        std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
        double sum = 0;
        uint64_t count = 0;
    };
    Snapshot snapshot() const;

   private:
    prometheus::Histogram& h_;
    std::vector<double> bounds_;
};

enum class MetricType { counter, gauge, histogram };

// One metric name with its help text and label names; holds one series per distinct label values.
// with() locks and may allocate: call it once and keep the reference, which stays valid as long as
// the registry. `Series` is Counter, Gauge or Histogram; P is the prometheus-cpp type behind it.
template <class Series, class P>
class Family {
   public:
    Family(prometheus::Family<P>& family, std::string name, std::string help,
           std::vector<std::string> label_names, MetricType type, std::vector<double> buckets = {});
    Series& with(const std::vector<std::string>& label_values);
    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    MetricType type() const { return type_; }
    const std::vector<double>& buckets() const { return buckets_; }

   private:
    prometheus::Family<P>& family_;
    std::string name_, help_;
    std::vector<std::string> label_names_;
    MetricType type_;
    std::vector<double> buckets_;
    std::mutex mu_;
    std::map<std::vector<std::string>, std::unique_ptr<Series>> series_;
};

using CounterFamily = Family<Counter, prometheus::Counter>;
using GaugeFamily = Family<Gauge, prometheus::Gauge>;
using HistogramFamily = Family<Histogram, prometheus::Histogram>;

// Bucket helpers: {start, start*factor, ...} (count bounds) and {start, start+width, ...}.
std::vector<double> exponential_buckets(double start, double factor, int count);
std::vector<double> linear_buckets(double start, double width, int count);

// Makes any key a valid name part: every character outside [a-zA-Z0-9_] becomes '_'
// ("reward/mean" -> "reward_mean"). Used to mirror metrics.jsonl keys as gauges.
std::string sanitize_metric_name(std::string_view key);

class MetricsRegistry {
   public:
    MetricsRegistry();
    ~MetricsRegistry();
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

    // Runs before every collection (refreshes gauges read from elsewhere: /proc, the buffer's stats).
    // Hooks live as long as the registry; use them for process-wide sources only.
    void add_collect_hook(std::function<void()> hook);

    // Runs the hooks, then collects every family from prometheus-cpp in a stable order: families
    // by exposed name, series by label values, labels in the order they were declared.
    std::vector<prometheus::MetricFamily> collect() const;
    // What /metrics serves: prometheus-cpp's TextSerializer (text format 0.0.4) over collect().
    std::string render() const;
    // Every exposed metric name (counters with `_total`; histograms as their base name), sorted.
    std::vector<std::string> metric_names() const;

   private:
    template <class F, class P>
    F& get_or_add(std::map<std::string, std::unique_ptr<F>>& families, const std::string& name,
                  const std::string& help, const std::vector<std::string>& labels, MetricType type,
                  const std::vector<double>& buckets);

    std::shared_ptr<prometheus::Registry> registry_;
    mutable std::mutex mu_;
    std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
    std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_;
    std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
    std::map<std::string, std::vector<std::string>> label_order_;  // exposed name -> label names
    std::vector<std::function<void()>> hooks_;
};

// The labels every Stride series carries, in this order.
inline const std::vector<std::string> kRoleLabels = {"job", "role", "worker"};

}  // namespace stride
