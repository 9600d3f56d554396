// common/metrics.cpp: see metrics.h.
#include "common/metrics.h"

#include <prometheus/check_names.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include "common/base/error.h"

namespace stride {

namespace {

// prometheus-cpp 1.0.1 writes HELP text as given; the text format wants backslash and newline
// escaped (a raw newline would end the line and break the scrape), quotes left as they are.
std::string escape_help(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

template <class P>
prometheus::Family<P>& build_family(prometheus::Registry& r, const std::string& name,
                                    const std::string& help) {
    try {
        if constexpr (std::is_same_v<P, prometheus::Counter>)
            return prometheus::BuildCounter().Name(name).Help(help).Register(r);
        else if constexpr (std::is_same_v<P, prometheus::Gauge>)
            return prometheus::BuildGauge().Name(name).Help(help).Register(r);
        else
            return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
    } catch (const std::invalid_argument& e) {
        throw Error("metric " + name + ": " + e.what());
    }
}

prometheus::MetricType prometheus_type(MetricType t) {
    switch (t) {
        case MetricType::counter:
            return prometheus::MetricType::Counter;
        case MetricType::gauge:
            return prometheus::MetricType::Gauge;
        default:
            return prometheus::MetricType::Histogram;
    }
}

// Collected series with their labels in the declared order (prometheus-cpp keeps labels in a
// std::map, so they come out sorted by name), then sorted by label values.
void order_series(prometheus::MetricFamily& f, const std::vector<std::string>& label_names) {
    for (prometheus::ClientMetric& m : f.metric) {
        std::vector<prometheus::ClientMetric::Label> ordered;
        ordered.reserve(m.label.size());
        for (const std::string& n : label_names)
            for (auto& l : m.label)
                if (l.name == n) ordered.push_back(std::move(l));
        m.label = std::move(ordered);
    }
    std::sort(f.metric.begin(), f.metric.end(),
              [](const prometheus::ClientMetric& a, const prometheus::ClientMetric& b) {
                  return std::lexicographical_compare(
                      a.label.begin(), a.label.end(), b.label.begin(), b.label.end(),
                      [](const auto& x, const auto& y) { return x.value < y.value; });
              });
}

}  // namespace

// ---- series -------------------------------------------------------------------------------------

Histogram::Snapshot Histogram::snapshot() const {
    // prometheus-cpp collects under the series' mutex: the +Inf bucket equals the count.
    const prometheus::ClientMetric m = h_.Collect();
    Snapshot s;
    s.upper_bounds = bounds_;
    for (const auto& b : m.histogram.bucket) s.cumulative.push_back(b.cumulative_count);
    s.count = m.histogram.sample_count;
    s.sum = m.histogram.sample_sum;
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

std::string sanitize_metric_name(std::string_view key) {
    std::string out(key);
    for (char& c : out) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) c = '_';
    }
    return out;
}

// ---- families -----------------------------------------------------------------------------------

template <class Series, class P>
Family<Series, P>::Family(prometheus::Family<P>& family, std::string name, std::string help,
                          std::vector<std::string> label_names, MetricType type, std::vector<double> buckets)
    : family_(family),
      name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      type_(type),
      buckets_(std::move(buckets)) {}

template <class Series, class P>
Series& Family<Series, P>::with(const std::vector<std::string>& label_values) {
    STRIDE_CHECK(label_values.size() == label_names_.size(),
                 "metric " + name_ + ": " + std::to_string(label_values.size()) + " label values for " +
                     std::to_string(label_names_.size()) + " labels");
    std::lock_guard<std::mutex> lock(mu_);
    auto it = series_.find(label_values);
    if (it != series_.end()) return *it->second;
    prometheus::Labels labels;
    for (size_t i = 0; i < label_names_.size(); ++i) labels.emplace(label_names_[i], label_values[i]);
    std::unique_ptr<Series> s;
    if constexpr (std::is_same_v<Series, Histogram>)
        s = std::make_unique<Histogram>(family_.Add(labels, buckets_), buckets_);
    else
        s = std::make_unique<Series>(family_.Add(labels));
    Series& ref = *s;
    series_.emplace(label_values, std::move(s));
    return ref;
}

template class Family<Counter, prometheus::Counter>;
template class Family<Gauge, prometheus::Gauge>;
template class Family<Histogram, prometheus::Histogram>;

// ---- registry -----------------------------------------------------------------------------------

MetricsRegistry::MetricsRegistry() : registry_(std::make_shared<prometheus::Registry>()) {}

MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry& MetricsRegistry::global() {
    static MetricsRegistry* r = new MetricsRegistry();  // never destroyed: roles may update at exit
    return *r;
}

template <class F, class P>
F& MetricsRegistry::get_or_add(std::map<std::string, std::unique_ptr<F>>& families, const std::string& name,
                               const std::string& help, const std::vector<std::string>& labels,
                               MetricType type, const std::vector<double>& buckets) {
    STRIDE_CHECK(prometheus::CheckMetricName(name), "invalid metric name '" + name + "'");
    std::set<std::string> seen;
    for (const std::string& l : labels)
        STRIDE_CHECK(prometheus::CheckLabelName(l) && l != "le" && seen.insert(l).second,
                     "metric " + name + ": invalid or repeated label name '" + l + "'");
    std::lock_guard<std::mutex> lock(mu_);
    auto it = families.find(name);
    if (it != families.end()) {
        STRIDE_CHECK(it->second->label_names() == labels && it->second->buckets() == buckets,
                     "metric " + name + " registered again with other labels or buckets");
        return *it->second;
    }
    // Another type under this name, or under the exposed name (a counter `x` is exposed as x_total).
    const std::string exposed = type == MetricType::counter ? name + "_total" : name;
    STRIDE_CHECK(!counters_.count(name) && !gauges_.count(name) && !histograms_.count(name) &&
                     !label_order_.count(exposed),
                 "metric " + name + " is already registered with another type");
    prometheus::Family<P>& pf = build_family<P>(*registry_, exposed, escape_help(help));
    auto f = std::make_unique<F>(pf, name, help, labels, type, buckets);
    F& ref = *f;
    families.emplace(name, std::move(f));
    label_order_.emplace(exposed, labels);
    return ref;
}

CounterFamily& MetricsRegistry::counter(const std::string& name, const std::string& help,
                                        const std::vector<std::string>& labels) {
    STRIDE_CHECK(name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0,
                 "counter " + name + ": leave out _total, it is added on exposition");
    return get_or_add<CounterFamily, prometheus::Counter>(counters_, name, help, labels, MetricType::counter,
                                                          {});
}

GaugeFamily& MetricsRegistry::gauge(const std::string& name, const std::string& help,
                                    const std::vector<std::string>& labels) {
    return get_or_add<GaugeFamily, prometheus::Gauge>(gauges_, name, help, labels, MetricType::gauge, {});
}

HistogramFamily& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                            const std::vector<std::string>& labels,
                                            const std::vector<double>& buckets) {
    STRIDE_CHECK(!buckets.empty(), "histogram " + name + ": needs at least one bucket");
    for (size_t i = 0; i + 1 < buckets.size(); ++i)
        STRIDE_CHECK(buckets[i] < buckets[i + 1],
                     "histogram " + name + ": buckets must be strictly increasing");
    return get_or_add<HistogramFamily, prometheus::Histogram>(histograms_, name, help, labels,
                                                              MetricType::histogram, buckets);
}

void MetricsRegistry::add_collect_hook(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hooks_.push_back(std::move(hook));
}

std::vector<prometheus::MetricFamily> MetricsRegistry::collect() const {
    std::vector<std::function<void()>> hooks;
    {
        std::lock_guard<std::mutex> lock(mu_);
        hooks = hooks_;
    }
    for (auto& h : hooks) h();  // outside the lock: hooks update series of this registry

    std::vector<prometheus::MetricFamily> collected = registry_->Collect();
    std::lock_guard<std::mutex> lock(mu_);
    for (prometheus::MetricFamily& f : collected) {
        auto it = label_order_.find(f.name);
        if (it != label_order_.end()) order_series(f, it->second);
    }
    // prometheus-cpp leaves out families without series; they are exposed with HELP and TYPE alone,
    // so that every registered name shows up from the start.
    std::set<std::string> present;
    for (const auto& f : collected) present.insert(f.name);
    auto add_empty = [&](const auto& families, const std::string& suffix) {
        for (const auto& [name, fam] : families)
            if (!present.count(name + suffix))
                collected.push_back(
                    {name + suffix, escape_help(fam->help()), prometheus_type(fam->type()), {}});
    };
    add_empty(counters_, "_total");
    add_empty(gauges_, "");
    add_empty(histograms_, "");
    // Families in name order whatever their type (stable output, easy to diff).
    std::sort(
        collected.begin(), collected.end(),
        [](const prometheus::MetricFamily& a, const prometheus::MetricFamily& b) { return a.name < b.name; });
    return collected;
}

std::string MetricsRegistry::render() const {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, collect());
    return out.str();
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
