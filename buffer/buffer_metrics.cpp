// buffer/buffer_metrics.cpp: see buffer_metrics.h. Names: stride_buffer_<BufferStats field>, except
// where the vocabulary reads better (queue depth, stale dropped, rejected by reason).
#include "buffer/buffer_metrics.h"

namespace stride {

BufferMetrics::BufferMetrics(const std::string& job, MetricsRegistry& r) {
    const std::vector<std::string> lv = {job, "buffer", "0"};
    auto gauge = [&](const char* name, const char* help, uint64_t BufferStats::*field) {
        gauges_.push_back({&r.gauge(name, help, kRoleLabels).with(lv), field});
    };
    auto counter = [&](const char* name, const char* help, uint64_t BufferStats::*field) {
        counters_.push_back({&r.counter(name, help, kRoleLabels).with(lv), field});
    };
    gauge("stride_buffer_queue_depth_groups", "Complete groups waiting for the trainer (not leased)",
          &BufferStats::groups_complete);
    gauge("stride_buffer_groups_incomplete", "Groups still missing samples", &BufferStats::groups_incomplete);
    gauge("stride_buffer_groups_leased", "Groups leased to the trainer, not yet committed",
          &BufferStats::groups_leased);
    gauge("stride_buffer_leases_open", "Open leases (pulled, uncommitted batches)",
          &BufferStats::leases_open);
    gauge("stride_buffer_stored_samples", "Samples held", &BufferStats::stored_samples);
    gauge("stride_buffer_stored_bytes", "Serialized bytes of the samples held", &BufferStats::stored_bytes);
    gauge("stride_buffer_capacity_samples", "Samples held before producers are told to wait",
          &BufferStats::capacity_samples);
    gauge("stride_buffer_bytes_on_disk", "Size of the RocksDB directory", &BufferStats::bytes_on_disk);

    counter("stride_buffer_puts", "Put requests", &BufferStats::puts);
    counter("stride_buffer_samples_put", "Samples stored by puts", &BufferStats::samples_put);
    counter("stride_buffer_samples_duplicate", "Samples put again (idempotent retries)",
            &BufferStats::samples_duplicate);
    counter("stride_buffer_pulls", "Pull requests", &BufferStats::pulls);
    counter("stride_buffer_pulls_empty", "Pulls answered with nothing", &BufferStats::pulls_empty);
    counter("stride_buffer_batches_leased", "Batches leased to the trainer", &BufferStats::batches_leased);
    counter("stride_buffer_commits", "Batches committed (deleted) by the trainer", &BufferStats::commits);
    counter("stride_buffer_samples_committed", "Samples deleted by commits", &BufferStats::samples_committed);
    counter("stride_buffer_stale_dropped_samples", "Samples dropped for exceeding buffer.max_staleness",
            &BufferStats::dropped_stale_samples);
    counter("stride_buffer_stale_dropped_groups", "Groups dropped for exceeding buffer.max_staleness",
            &BufferStats::dropped_stale_groups);
    counter("stride_buffer_leases_expired", "Leased groups served again after the lease timed out",
            &BufferStats::leases_expired);
    counter("stride_buffer_leases_released", "Leased groups released by a restarted trainer",
            &BufferStats::leases_released);
    counter("stride_buffer_recovered_samples", "Samples recovered from disk at start",
            &BufferStats::recovered_samples);
    counter("stride_buffer_write_batches", "RocksDB group-commit writes", &BufferStats::write_batches);

    std::vector<std::string> labels = kRoleLabels;
    labels.push_back("reason");
    CounterFamily& rejected =
        r.counter("stride_buffer_rejected", "Requests answered with an error, by reason", labels);
    const std::pair<const char*, uint64_t BufferStats::*> reasons[] = {
        {"malformed", &BufferStats::rejected_malformed},
        {"wrong_job", &BufferStats::rejected_wrong_job},
        {"wrong_schema", &BufferStats::rejected_wrong_schema},
        {"unknown_body", &BufferStats::rejected_unknown_body},
        {"invalid", &BufferStats::rejected_invalid},
        {"busy", &BufferStats::rejected_busy},
        {"unknown_batch", &BufferStats::rejected_unknown_batch},
        {"internal", &BufferStats::rejected_internal},
    };
    for (const auto& [reason, field] : reasons)
        counters_.push_back({&rejected.with({lv[0], lv[1], lv[2], reason}), field});
}

void BufferMetrics::update(const BufferStats& now) {
    for (const Gauged& g : gauges_) g.gauge->set(static_cast<double>(now.*(g.field)));
    for (const Counted& c : counters_) {
        const uint64_t v = now.*(c.field), before = last_.*(c.field);
        if (v > before) c.counter->inc(v - before);
    }
    last_ = now;
}

}  // namespace stride
