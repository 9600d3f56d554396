// buffer/buffer_stats.cpp: see buffer_stats.h.
#include "buffer/buffer_stats.h"

namespace stride {

void BufferStats::count_rejection(v1::ErrorCode code) {
    ++rejected_total;
    switch (code) {
        case v1::ERROR_CODE_MALFORMED:
            ++rejected_malformed;
            break;
        case v1::ERROR_CODE_WRONG_JOB:
            ++rejected_wrong_job;
            break;
        case v1::ERROR_CODE_WRONG_SCHEMA_VERSION:
            ++rejected_wrong_schema;
            break;
        case v1::ERROR_CODE_UNKNOWN_BODY:
            ++rejected_unknown_body;
            break;
        case v1::ERROR_CODE_INVALID_ARGUMENT:
            ++rejected_invalid;
            break;
        case v1::ERROR_CODE_BUSY:
            ++rejected_busy;
            break;
        case v1::ERROR_CODE_UNKNOWN_BATCH:
            ++rejected_unknown_batch;
            break;
        default:
            ++rejected_internal;
            break;
    }
}

void BufferStats::to_proto(v1::BufferStats* out) const {
    out->set_stored_samples(stored_samples);
    out->set_stored_bytes(stored_bytes);
    out->set_groups_incomplete(groups_incomplete);
    out->set_groups_complete(groups_complete);
    out->set_groups_leased(groups_leased);
    out->set_leases_open(leases_open);
    out->set_capacity_samples(capacity_samples);
    out->set_bytes_on_disk(bytes_on_disk);
    out->set_puts(puts);
    out->set_samples_put(samples_put);
    out->set_samples_duplicate(samples_duplicate);
    out->set_pulls(pulls);
    out->set_pulls_empty(pulls_empty);
    out->set_batches_leased(batches_leased);
    out->set_commits(commits);
    out->set_samples_committed(samples_committed);
    out->set_dropped_stale_samples(dropped_stale_samples);
    out->set_dropped_stale_groups(dropped_stale_groups);
    out->set_leases_expired(leases_expired);
    out->set_leases_released(leases_released);
    out->set_rejected_total(rejected_total);
    out->set_rejected_malformed(rejected_malformed);
    out->set_rejected_wrong_job(rejected_wrong_job);
    out->set_rejected_wrong_schema(rejected_wrong_schema);
    out->set_rejected_unknown_body(rejected_unknown_body);
    out->set_rejected_invalid(rejected_invalid);
    out->set_rejected_busy(rejected_busy);
    out->set_rejected_unknown_batch(rejected_unknown_batch);
    out->set_rejected_internal(rejected_internal);
    out->set_recovered_samples(recovered_samples);
    out->set_write_batches(write_batches);
}

}  // namespace stride
