// buffer/buffer_recover.cpp: what a restarted buffer rebuilds from its RocksDB directory. See
// buffer_server_impl.h and buffer/README.md.
#include "buffer/buffer_server_impl.h"

#include <spdlog/spdlog.h>

#include "common/base/error.h"

namespace stride {

using namespace buffer_impl;

void BufferServer::Impl::recover() {
    max_trainer_version = store.max_trainer_version();
    uint64_t corrupt = 0;
    // Samples stored before validation at the door existed (or under other limits) are checked again:
    // a group holding one the trainer cannot take is deleted whole, with a warning, rather than
    // crashing every trainer that pulls it.
    struct Recovered {
        std::string group_id;
        SampleRef ref;
    };
    std::vector<Recovered> found;
    std::unordered_map<std::string, std::string> bad_groups;  // group -> why
    std::unordered_set<std::string> indices;
    store.scan_samples([&](const std::string& bytes) {
        v1::Sample s;
        if (!s.ParseFromString(bytes)) {
            ++corrupt;
            return;
        }
        std::string why = validate_sample(s, /*at_door=*/false);
        if (why.empty() && !indices.insert(index_key(s.group_id(), s.index_in_group())).second)
            why = "sample " + s.sample_id() + ": group " + s.group_id() +
                  " holds another sample at index_in_group " + std::to_string(s.index_in_group());
        if (!why.empty()) bad_groups.emplace(s.group_id(), why);
        found.push_back({s.group_id(), sample_ref(s, bytes.size())});
    });
    StoreBatch drop;
    uint64_t dropped_samples = 0;
    for (auto& r : found) {
        if (bad_groups.count(r.group_id)) {
            drop.delete_sample(r.group_id, r.ref.sample_id);
            ++dropped_samples;
            continue;
        }
        index.add_sample(r.group_id, std::move(r.ref), false);
        ++counters.recovered_samples;
    }
    if (!bad_groups.empty()) {
        std::string err = store.write(drop, /*must_sync=*/true);
        STRIDE_CHECK(err.empty(), "buffer store '" + cfg.dir + "': cannot delete invalid groups: " + err);
        for (const auto& [group, why] : bad_groups)
            spdlog::warn("buffer: '{}': deleted stored group {}, which the trainer cannot take: {}", cfg.dir,
                         group, why);
    }
    size_t complete = index.complete_full_groups();
    store.scan_done([&](const std::string& group_id, int64_t step) { done.emplace(group_id, step); });
    store.scan_redispatch([&](const std::string& group_id, const std::string& prompt_id) {
        redispatch.emplace(group_id, prompt_id);
    });

    std::vector<v1::StoredLease> leases;
    store.scan_leases([&](const v1::StoredLease& l) { leases.push_back(l); });
    uint64_t max_id = 0;
    StoreBatch wb;
    size_t kept = 0, trained = 0;
    for (const auto& l : leases) {
        max_id = std::max(max_id, l.batch_id());
        if (l.trained_step() > 0) {  // trained, awaiting its checkpoint: kept whatever the lease rule
            Lease lease{l.batch_id(), {}, 0};
            for (const auto& g : l.group_ids())
                if (const GroupEntry* e = index.find(g); e && e->complete_seq && !e->lease)
                    lease.group_ids.push_back(g);
            index.add_lease(std::move(lease));
            index.mark_trained(l.batch_id(), l.trained_step());
            ++trained;
            continue;
        }
        if (!cfg.keep_leases_on_restart) {
            wb.delete_lease(l.batch_id());
            counters.leases_released += l.group_ids_size();
            continue;
        }
        Lease lease{l.batch_id(), {}, cfg.lease_timeout_ms ? steady_ms() + int64_t(cfg.lease_timeout_ms) : 0};
        for (const auto& g : l.group_ids()) {
            const GroupEntry* e = index.find(g);
            if (e && e->complete_seq && !e->lease) lease.group_ids.push_back(g);
        }
        index.add_lease(std::move(lease));
        ++kept;
        // A trainer whose pull leased this batch just before the buffer died retries that pull (the
        // same request id): it gets this batch again rather than a second lease that would hold these
        // groups until lease_timeout_ms.
        if (l.request_id() != 0 && !l.trainer_id().empty()) {
            LastPull& last = last_pull[l.trainer_id()];
            if (l.batch_id() > last.batch_id) last = {l.request_id(), l.batch_id()};
        }
    }
    std::string err = store.write(wb, /*must_sync=*/false);
    STRIDE_CHECK(err.empty(), "buffer store '" + cfg.dir + "': cannot release old leases: " + err);

    for (uint64_t id : store.committed_ids()) {
        committed.insert(id);
        max_id = std::max(max_id, id);
    }
    next_batch_id = std::max(store.next_batch_id(), max_id + 1);
    spdlog::info(
        "buffer: opened '{}': recovered {} samples in {} groups ({} complete), {} trained batches awaiting "
        "their checkpoint, {} leases {}{}{}, serving {}",
        cfg.dir, counters.recovered_samples, index.groups_total(), complete, trained, leases.size() - trained,
        cfg.keep_leases_on_restart ? "kept" : "released",
        corrupt ? fmt::format(", {} unreadable samples skipped", corrupt) : "",
        bad_groups.empty()
            ? ""
            : fmt::format(", {} invalid groups ({} samples) deleted", bad_groups.size(), dropped_samples),
        bound_endpoint);
    (void)kept;
    if (cfg.resume_step >= 0) resume_from(cfg.resume_step, cfg.resume_version);
}

}  // namespace stride
