// common/metrics.cpp: see metrics.h.
#include "common/metrics.h"

#include <algorithm>
#include <cmath>

#include "common/base/error.h"
#include "common/metrics_text.h"

namespace stride {

namespace {

void atomic_add(std::atomic<double>& a, double x) {
    double cur = a.load(std::memory_order_relaxed);
    while (!a.compare_exchange_weak(cur, cur + x, std::memory_order_relaxed)) {
    }
}

const char* type_name(MetricType t) {
    switch (t) {
        case MetricType::counter:
            return "counter";
        case MetricType::gauge:
            return "gauge";
        default:
            return "histogram";
    }
}

}  // namespace

// ---- series -------------------------------------------------------------------------------------

int Counter::shard() {
    // Each thread gets its own cell on first use, round robin; thread_local makes the hot path one
    // TLS load.
    static std::atomic<int> next{0};
    thread_local const int mine = next.fetch_add(1, std::memory_order_relaxed) % kCounterShards;
    return mine;
}

void Counter::add(double x) {
    if (x > 0) atomic_add(fractional_, x);  // counters never go down
}

double Counter::value() const {
    uint64_t whole = 0;
    for (const Cell& c : cells_) whole += c.v.load(std::memory_order_relaxed);
    return static_cast<double>(whole) + fractional_.load(std::memory_order_relaxed);
}

void Gauge::add(double x) {
    atomic_add(v_, x);
}

Histogram::Histogram(const std::vector<double>& upper_bounds)
    : bounds_(upper_bounds), buckets_(new std::atomic<uint64_t>[upper_bounds.size() + 1]) {
    for (size_t i = 0; i + 1 < bounds_.size(); ++i)
        STRIDE_CHECK(bounds_[i] < bounds_[i + 1], "histogram buckets must be strictly increasing");
    for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double x) {
    // Few buckets (~10-20): a linear scan beats a binary search's branch misses.
    size_t i = 0;
    while (i < bounds_.size() && !(x <= bounds_[i])) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    atomic_add(sum_, x);
}

Histogram::Snapshot Histogram::snapshot() const {
    Snapshot s;
    s.upper_bounds = bounds_;
    s.cumulative.resize(bounds_.size() + 1);
    uint64_t run = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
        run += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative[i] = run;
    }
    // The count is the +Inf bucket by construction, so `+Inf == _count` even under concurrent
    // observations; only _sum may be a few observations ahead or behind.
    s.count = run;
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
    STRIDE_CHECK(start > 0 && factor > 1 && count >= 1,
                 "exponential_buckets: need start > 0, factor > 1, count >= 1");
    std::vector<double> b;
    for (int i = 0; i < count; ++i) b.push_back(start * std::pow(factor, i));
    return b;
}

std::vector<double> linear_buckets(double start, double width, int count) {
    STRIDE_CHECK(width > 0 && count >= 1, "linear_buckets: need width > 0, count >= 1");
    std::vector<double> b;
    for (int i = 0; i < count; ++i) b.push_back(start + width * i);
    return b;
}

// ---- families -----------------------------------------------------------------------------------

template <class Series>
Family<Series>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                       MetricType type, std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      type_(type),
      buckets_(std::move(buckets)) {}

template <class Series>
Series& Family<Series>::with(const std::vector<std::string>& label_values) {
    STRIDE_CHECK(label_values.size() == label_names_.size(),
                 "metric " + name_ + ": " + std::to_string(label_values.size()) + " label values for " +
                     std::to_string(label_names_.size()) + " labels");
    std::lock_guard<std::mutex> lock(mu_);
    auto it = series_.find(label_values);
    if (it != series_.end()) return *it->second;
    std::unique_ptr<Series> s;
    if constexpr (std::is_same_v<Series, Histogram>)
        s = std::make_unique<Histogram>(buckets_);
    else
        s = std::make_unique<Series>();
    Series& ref = *s;
    series_.emplace(label_values, std::move(s));
    return ref;
}

template <class Series>
void Family<Series>::for_each(
    const std::function<void(const std::vector<std::string>&, const Series&)>& fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [labels, s] : series_) fn(labels, *s);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- registry -----------------------------------------------------------------------------------

MetricsRegistry& MetricsRegistry::global() {
    static MetricsRegistry* r = new MetricsRegistry();  // never destroyed: roles may update at exit
    return *r;
}

void MetricsRegistry::check_name_free(const std::string& name, MetricType type) const {
    const bool clash = (type != MetricType::counter && counters_.count(name)) ||
                       (type != MetricType::gauge && gauges_.count(name)) ||
                       (type != MetricType::histogram && histograms_.count(name));
    STRIDE_CHECK(!clash, "metric " + name + " is already registered with another type");
}

template <class F>
F& MetricsRegistry::get_or_add(std::map<std::string, std::unique_ptr<F>>& families, const std::string& name,
                               const std::string& help, const std::vector<std::string>& labels,
                               MetricType type, const std::vector<double>& buckets) {
    STRIDE_CHECK(valid_metric_name(name), "invalid metric name '" + name + "'");
    for (const std::string& l : labels)
        STRIDE_CHECK(valid_metric_name(l, false) && l != "le" && l.rfind("__", 0) != 0,
                     "metric " + name + ": invalid label name '" + l + "'");
    std::lock_guard<std::mutex> lock(mu_);
    check_name_free(name, type);
    auto it = families.find(name);
    if (it != families.end()) {
        STRIDE_CHECK(it->second->label_names() == labels && it->second->buckets() == buckets,
                     "metric " + name + " registered again with other labels or buckets");
        return *it->second;
    }
    auto f = std::make_unique<F>(name, help, labels, type, buckets);
    F& ref = *f;
    families.emplace(name, std::move(f));
    return ref;
}

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        const std::vector<std::string>& labels) {
    STRIDE_CHECK(name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0,
                 "counter " + name + ": leave out _total, it is added on exposition");
    return get_or_add(counters_, name, help, labels, MetricType::counter, {});
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    const std::vector<std::string>& labels) {
    return get_or_add(gauges_, name, help, labels, MetricType::gauge, {});
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            const std::vector<std::string>& labels,
                                            const std::vector<double>& buckets) {
    STRIDE_CHECK(!buckets.empty(), "histogram " + name + ": needs at least one bucket");
    return get_or_add(histograms_, name, help, labels, MetricType::histogram, buckets);
}

void MetricsRegistry::add_collect_hook(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hooks_.push_back(std::move(hook));
}

std::string MetricsRegistry::render() const {
    std::vector<std::function<void()>> hooks;
    {
        std::lock_guard<std::mutex> lock(mu_);
        hooks = hooks_;
    }
    for (auto& h : hooks) h();  // outside the lock: hooks update series of this registry

    // Families are emitted in name order whatever their type (stable output, easy to diff).
    struct Entry {
        std::string exposed;
        std::function<void(std::string&)> emit;
    };
    std::vector<Entry> entries;
    std::lock_guard<std::mutex> lock(mu_);
    auto header = [](std::string& out, const std::string& name, const std::string& help, MetricType t) {
        out += "# HELP " + name + ' ' + escape_help(help) + '\n';
        out += "# TYPE " + name + ' ' + type_name(t) + '\n';
    };
    for (const auto& [name, f] : counters_) {
        const CounterFamily* fam = f.get();
        entries.push_back({name + "_total", [fam, header](std::string& out) {
                               const std::string n = fam->name() + "_total";
                               header(out, n, fam->help(), MetricType::counter);
                               fam->for_each([&](const std::vector<std::string>& lv, const Counter& c) {
                                   out += n + format_labels(fam->label_names(), lv) + ' ' +
                                          format_metric_value(c.value()) + '\n';
                               });
                           }});
    }
    for (const auto& [name, f] : gauges_) {
        const GaugeFamily* fam = f.get();
        entries.push_back({name, [fam, header](std::string& out) {
                               header(out, fam->name(), fam->help(), MetricType::gauge);
                               fam->for_each([&](const std::vector<std::string>& lv, const Gauge& g) {
                                   out += fam->name() + format_labels(fam->label_names(), lv) + ' ' +
                                          format_metric_value(g.value()) + '\n';
                               });
                           }});
    }
    for (const auto& [name, f] : histograms_) {
        const HistogramFamily* fam = f.get();
        entries.push_back(
            {name, [fam, header](std::string& out) {
                 const std::string& n = fam->name();
                 header(out, n, fam->help(), MetricType::histogram);
                 fam->for_each([&](const std::vector<std::string>& lv, const Histogram& h) {
                     const Histogram::Snapshot s = h.snapshot();
                     const auto& ln = fam->label_names();
                     for (size_t i = 0; i <= s.upper_bounds.size(); ++i) {
                         const std::string le =
                             i < s.upper_bounds.size() ? format_metric_value(s.upper_bounds[i]) : "+Inf";
                         out += n + "_bucket" + format_labels(ln, lv, "le", le) + ' ' +
                                std::to_string(s.cumulative[i]) + '\n';
                     }
                     out += n + "_sum" + format_labels(ln, lv) + ' ' + format_metric_value(s.sum) + '\n';
                     out += n + "_count" + format_labels(ln, lv) + ' ' + std::to_string(s.count) + '\n';
                 });
             }});
    }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.exposed < b.exposed; });
    std::string out;
    for (const Entry& e : entries) e.emit(out);
    return out;
}

std::vector<std::string> MetricsRegistry::metric_names() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& kv : counters_) names.push_back(kv.first + "_total");
    for (const auto& kv : gauges_) names.push_back(kv.first);
    for (const auto& kv : histograms_) names.push_back(kv.first);
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace stride
