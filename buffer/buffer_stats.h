// buffer/buffer_stats.h: the experience buffer's counters as a plain struct, read by the Stats reply
// and (later) by the Prometheus exporter. Counters count since process start; gauges describe now.
#pragma once
#include <cstdint>

#include "proto/stride.pb.h"

namespace stride {

struct BufferStats {
    // gauges
    uint64_t stored_samples = 0;
    uint64_t stored_bytes = 0;
    uint64_t groups_incomplete = 0;
    uint64_t groups_complete = 0;  // complete and not leased
    uint64_t groups_leased = 0;
    uint64_t leases_open = 0;
    uint64_t capacity_samples = 0;
    uint64_t bytes_on_disk = 0;
    // counters
    uint64_t puts = 0;
    uint64_t samples_put = 0;
    uint64_t samples_duplicate = 0;
    uint64_t pulls = 0;
    uint64_t pulls_empty = 0;
    uint64_t batches_leased = 0;
    uint64_t commits = 0;
    uint64_t samples_committed = 0;
    uint64_t dropped_stale_samples = 0;
    uint64_t dropped_stale_groups = 0;
    uint64_t leases_expired = 0;   // groups
    uint64_t leases_released = 0;  // groups
    uint64_t rejected_total = 0;
    uint64_t rejected_malformed = 0;
    uint64_t rejected_wrong_job = 0;
    uint64_t rejected_wrong_schema = 0;
    uint64_t rejected_unknown_body = 0;
    uint64_t rejected_invalid = 0;
    uint64_t rejected_busy = 0;
    uint64_t rejected_unknown_batch = 0;
    uint64_t rejected_internal = 0;
    uint64_t recovered_samples = 0;
    uint64_t write_batches = 0;

    // Counts one Error reply under its code.
    void count_rejection(v1::ErrorCode code);
    void to_proto(v1::BufferStats* out) const;
};

}  // namespace stride
