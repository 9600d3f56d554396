// buffer/buffer_pull.cpp: PullBatch: stale drops, leases, and retried pulls. See buffer_server_impl.h and
// buffer/README.md.
#include "buffer/buffer_server_impl.h"

namespace stride {

using namespace buffer_impl;

// ---- pull --------------------------------------------------------------------------------------

bool BufferServer::Impl::fill_batch(const std::vector<std::string>& group_ids, v1::Batch* batch) {
    std::vector<std::string> values;
    for (const auto& id : group_ids) {
        values.clear();
        if (!store.read_group(id, &values)) return false;
        v1::Group* g = batch->add_groups();
        g->set_group_id(id);
        for (const auto& v : values)
            if (!g->add_samples()->ParseFromString(v)) return false;
        auto* samples = g->mutable_samples();
        std::sort(samples->pointer_begin(), samples->pointer_end(),
                  [](const v1::Sample* a, const v1::Sample* b) {
                      return a->index_in_group() < b->index_in_group();
                  });
    }
    return true;
}

void BufferServer::Impl::handle_pull(Request& req, const v1::Envelope& env) {
    const v1::PullBatch& p = env.pull_batch();
    if (p.num_groups() == 0) return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT, "pull of 0 groups");
    if (p.group_size() != 0 && p.group_size() != cfg.group_size)
        return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT,
                      "trainer expects group_size " + std::to_string(p.group_size()) +
                          ", the buffer is configured for " + std::to_string(cfg.group_size));
    ++counters.pulls;
    v1::Envelope out = make_envelope(cfg.job_id);
    v1::Batch* batch = out.mutable_batch();

    // A retry of a pull whose reply was lost: serve the same lease again.
    if (p.request_id() != 0 && !p.trainer_id().empty()) {
        auto it = last_pull.find(p.trainer_id());
        if (it != last_pull.end() && it->second.request_id == p.request_id()) {
            if (const Lease* lease = index.find_lease(it->second.batch_id)) {
                if (!fill_batch(lease->group_ids, batch))
                    return reject(req, v1::ERROR_CODE_INTERNAL, "cannot read leased samples");
                batch->set_batch_id(lease->batch_id);
                batch->set_groups_available(index.groups_ready());
                return reply(req, out);
            }
        }
    }

    // Plan: stale groups to drop, ready groups to lease. Nothing changes until the write succeeded.
    StoreBatch wb;
    std::vector<std::string> stale;
    std::unordered_set<std::string> stale_set;
    uint64_t stale_samples = 0;
    if (cfg.max_staleness >= 0) {
        stale = index.stale_groups(p.trainer_version() - cfg.max_staleness);
        for (const auto& id : stale) {
            const GroupEntry* g = index.find(id);
            for (const auto& s : g->samples) wb.delete_sample(id, s.sample_id);
            stale_samples += g->samples.size();
            stale_set.insert(id);
        }
    }
    std::vector<std::string> lease_groups;
    for (const auto& id : index.ready_groups(p.num_groups() + stale.size())) {
        if (lease_groups.size() == p.num_groups()) break;
        if (!stale_set.count(id)) lease_groups.push_back(id);
    }
    if (lease_groups.size() < p.num_groups() && !p.allow_partial()) lease_groups.clear();

    v1::StoredLease record;
    if (!lease_groups.empty()) {
        if (!fill_batch(lease_groups, batch))
            return reject(req, v1::ERROR_CODE_INTERNAL, "cannot read samples of the batch");
        record.set_batch_id(next_batch_id++);
        for (const auto& id : lease_groups) record.add_group_ids(id);
        record.set_trainer_version(p.trainer_version());
        record.set_trainer_id(p.trainer_id());
        record.set_request_id(p.request_id());
        record.set_created_unix_ms(unix_ms());
        wb.put_lease(record);
        wb.put_next_batch_id(next_batch_id);
    }
    const bool newer_version = p.trainer_version() > max_trainer_version;
    if (newer_version) wb.put_max_trainer_version(p.trainer_version());
    std::string err = store.write(wb, /*must_sync=*/false);
    if (!wb.empty()) ++counters.write_batches;
    if (!err.empty()) return reject(req, v1::ERROR_CODE_INTERNAL, "storage write failed: " + err);
    if (!lease_groups.empty() && cfg.after_lease_written) cfg.after_lease_written(record.batch_id());

    if (newer_version) max_trainer_version = p.trainer_version();
    index.erase_groups(stale);
    counters.dropped_stale_groups += stale.size();
    counters.dropped_stale_samples += stale_samples;
    batch->set_dropped_stale_groups(static_cast<uint32_t>(stale.size()));
    if (!lease_groups.empty()) {
        int64_t deadline = cfg.lease_timeout_ms ? steady_ms() + int64_t(cfg.lease_timeout_ms) : 0;
        index.add_lease({record.batch_id(), lease_groups, deadline});
        batch->set_batch_id(record.batch_id());
        ++counters.batches_leased;
        if (p.request_id() != 0 && !p.trainer_id().empty())
            last_pull[p.trainer_id()] = {p.request_id(), record.batch_id()};
    } else {
        batch->clear_groups();
        ++counters.pulls_empty;
    }
    batch->set_groups_available(index.groups_ready());
    reply(req, out);
}

}  // namespace stride
