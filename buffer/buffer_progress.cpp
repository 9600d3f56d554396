// buffer/buffer_progress.cpp: CommitBatch, ReleaseLeases, CheckpointDurable, resumes and lease expiry
// (progress truth). See buffer_server_impl.h and buffer/README.md.
#include "buffer/buffer_server_impl.h"

#include <spdlog/spdlog.h>

#include "buffer/resume_trim.h"
#include "common/base/error.h"

namespace stride {

using namespace buffer_impl;

// ---- commit, release, expiry -------------------------------------------------------------------

void BufferServer::Impl::handle_commit(Request& req, const v1::Envelope& env) {
    uint64_t id = env.commit_batch().batch_id();
    v1::Envelope out = make_envelope(cfg.job_id);
    v1::CommitAck* ack = out.mutable_commit_ack();
    ack->set_batch_id(id);
    const Lease* lease = index.find_lease(id);
    const int64_t step = env.commit_batch().trainer_step();
    if (lease && lease->trained_step > 0) {  // a retry of a step-tagged commit
        ack->set_already_committed(true);
        return reply(req, out);
    }
    if (!lease) {
        if (committed.count(id)) {
            ack->set_already_committed(true);
            return reply(req, out);
        }
        return reject(req, v1::ERROR_CODE_UNKNOWN_BATCH,
                      "batch " + std::to_string(id) +
                          " is not leased: it expired (lease_timeout_ms), was released (ReleaseLeases or a "
                          "buffer restart) or never existed; its groups are served again");
    }
    StoreBatch wb;
    uint32_t samples = 0;
    for (const auto& gid : lease->group_ids) {
        const GroupEntry* g = index.find(gid);
        if (!g) continue;
        if (step <= 0)
            for (const auto& s : g->samples) wb.delete_sample(gid, s.sample_id);
        samples += g->samples.size();
    }
    if (step > 0) {  // trained by `step`: kept, as a lease that never ends, until its checkpoint
        v1::StoredLease record;
        record.set_batch_id(id);
        for (const auto& gid : lease->group_ids) record.add_group_ids(gid);
        record.set_trained_step(step);
        record.set_created_unix_ms(unix_ms());
        wb.put_lease(record);
    } else {
        wb.delete_lease(id);
    }
    wb.put_committed(id);
    bool trim = committed.size() >= kCommittedMemory;
    if (trim) wb.delete_committed(*committed.begin());
    std::string err = store.write(wb, /*must_sync=*/false);
    ++counters.write_batches;
    if (!err.empty()) return reject(req, v1::ERROR_CODE_INTERNAL, "storage write failed: " + err);

    ack->set_groups(static_cast<uint32_t>(lease->group_ids.size()));
    ack->set_samples(samples);
    if (step > 0)
        index.mark_trained(id, step);
    else
        index.commit_lease(id);
    if (trim) committed.erase(committed.begin());
    committed.insert(id);
    ++counters.commits;
    counters.samples_committed += samples;
    reply(req, out);
}

int64_t BufferServer::Impl::end_leases(const std::vector<uint64_t>& ids) {
    if (ids.empty()) return 0;
    StoreBatch wb;
    for (uint64_t id : ids) wb.delete_lease(id);
    std::string err = store.write(wb, /*must_sync=*/false);
    ++counters.write_batches;
    if (!err.empty()) {
        spdlog::error("buffer: cannot end leases: {}", err);
        return -1;
    }
    int64_t groups = 0;
    for (uint64_t id : ids) {
        groups += index.find_lease(id)->group_ids.size();
        index.release_lease(id);
    }
    return groups;
}

void BufferServer::Impl::handle_release(Request& req, const v1::Envelope& env) {
    const v1::ReleaseLeases& rl = env.release_leases();
    if (rl.has_resume_step() && (rl.resume_step() < 0 || rl.resume_version() < 0))
        return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT,
                      "ReleaseLeases: resume step and version must be >= 0");
    std::vector<uint64_t> ids = index.lease_ids();
    int64_t groups = end_leases(ids);
    if (groups < 0) return reject(req, v1::ERROR_CODE_INTERNAL, "storage write failed");
    counters.leases_released += groups;
    spdlog::info("buffer: released {} leases ({} groups) for trainer '{}': {}", ids.size(), groups,
                 rl.trainer_id(), rl.reason());
    v1::Envelope out = make_envelope(cfg.job_id);
    if (rl.has_resume_step())
        *out.mutable_release_leases_ack() = resume_from(rl.resume_step(), rl.resume_version());
    for (const auto& [gid, prompt] : redispatch)
        out.mutable_release_leases_ack()->add_redispatch_prompt_ids(prompt);
    out.mutable_release_leases_ack()->set_batches_released(static_cast<uint32_t>(ids.size()));
    out.mutable_release_leases_ack()->set_groups_released(static_cast<uint32_t>(groups));
    reply(req, out);
}

// ---- progress truth: trained batches, checkpoints, resumes --------------------------------------

uint64_t BufferServer::Impl::plan_durable(int64_t step, StoreBatch& wb, std::vector<uint64_t>* batches) {
    uint64_t samples = 0;
    *batches = index.trained_batches(1, step);
    for (uint64_t id : *batches) {
        const Lease* lease = index.find_lease(id);
        for (const auto& gid : lease->group_ids) {
            const GroupEntry* g = index.find(gid);
            if (!g) continue;
            for (const auto& s : g->samples) wb.delete_sample(gid, s.sample_id);
            samples += g->samples.size();
            wb.put_done(gid, lease->trained_step);
        }
        wb.delete_lease(id);
    }
    return samples;
}

void BufferServer::Impl::apply_durable(const std::vector<uint64_t>& batches) {
    for (uint64_t id : batches) {
        const Lease* lease = index.find_lease(id);
        for (const auto& gid : lease->group_ids) done[gid] = lease->trained_step;
        index.commit_lease(id);
    }
}

void BufferServer::Impl::handle_checkpoint_durable(Request& req, const v1::Envelope& env) {
    const int64_t step = env.checkpoint_durable().step();
    if (step < 1) return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT, "CheckpointDurable.step must be >= 1");
    StoreBatch wb;
    std::vector<uint64_t> batches;
    const uint64_t samples = plan_durable(step, wb, &batches);
    // Synced: once the trainer is told, the next resume may start from this checkpoint.
    std::string err = store.write(wb, /*must_sync=*/true);
    if (!wb.empty()) ++counters.write_batches;
    if (!err.empty()) return reject(req, v1::ERROR_CODE_INTERNAL, "storage write failed: " + err);
    uint32_t groups = 0;
    for (uint64_t id : batches) groups += static_cast<uint32_t>(index.find_lease(id)->group_ids.size());
    apply_durable(batches);
    v1::Envelope out = make_envelope(cfg.job_id);
    out.mutable_checkpoint_durable_ack()->set_groups(groups);
    out.mutable_checkpoint_durable_ack()->set_samples(static_cast<uint32_t>(samples));
    reply(req, out);
}

v1::ReleaseLeasesAck BufferServer::Impl::resume_from(int64_t step, int64_t version) {
    // 1. The checkpoint of `step` landed: what steps <= step trained is done (its CheckpointDurable
    //    may not have arrived before the crash).
    StoreBatch wb;
    std::vector<uint64_t> durable;
    plan_durable(step, wb, &durable);
    // 2. What later steps trained is served again: the resumed trainer trains those steps anew.
    const std::vector<uint64_t> replay = index.trained_batches(step + 1, INT64_MAX);
    for (uint64_t id : replay) wb.delete_lease(id);
    // 2b. The resume starts from an older checkpoint than one the buffer was told of (the newer one
    //     was deleted or is unreadable): the groups later steps trained were deleted with it, so they
    //     are no longer done. The resumed dispatcher hands their prompts out again (from this
    //     checkpoint's first untrained prompt) and the resumed policy generates them anew; refusing
    //     them as done would leave the trainer waiting for groups that never come.
    std::vector<std::string> forgotten;
    int64_t newest_done = 0;
    for (const auto& [gid, trained_by] : done)
        if (trained_by > step) {
            forgotten.push_back(gid);
            newest_done = std::max(newest_done, trained_by);
            wb.delete_done(gid);
        }
    // 3. Versions above `version` were made by a policy the resume discarded: their groups go (their
    //    prompts are dispatched again from the resumed data cursor) ...
    std::vector<std::string> discarded;
    for (const std::string& gid : index.groups_newer_than(version)) {
        const GroupEntry* g = index.find(gid);
        bool replayed_or_free = !g->lease;
        for (uint64_t id : replay) replayed_or_free = replayed_or_free || g->lease == id;
        if (!replayed_or_free) continue;  // an untrained lease: released first, checked at the next resume
        for (const auto& smp : g->samples) wb.delete_sample(gid, smp.sample_id);
        discarded.push_back(gid);
    }
    // ... and so do in-flight groups they touched (resume_trim.h).
    // Their prompts are listed for the trainer to re-dispatch, durably (a buffer restarted before it
    // asks must still know them). The dispatcher's group id is its prompt id (PromptDispatcher::prompt_at).
    std::map<std::string, std::string> again;
    for (const std::string& gid : discarded) again.emplace(gid, gid);
    uint32_t trimmed = 0;
    store.scan_partials("", [&](const std::string& worker, const std::string& gid, const std::string& bytes) {
        v1::InFlightGroup rec;
        if (!rec.ParseFromString(bytes) || !inflight_newer_than(rec, version)) return;
        wb.delete_partial(worker, gid);
        again[gid] = rec.prompt().prompt_id().empty() ? gid : rec.prompt().prompt_id();
        ++trimmed;
    });
    for (const auto& [gid, prompt] : again) wb.put_redispatch(gid, prompt);
    // 4. Versions from the discarded future are refused at the door again (max_version_ahead).
    const bool lower = max_trainer_version > version;
    if (lower) wb.put_max_trainer_version(version);
    std::string err = store.write(wb, /*must_sync=*/true);
    if (!wb.empty()) ++counters.write_batches;
    STRIDE_CHECK(err.empty(), "buffer store '" + cfg.dir + "': cannot apply the resume from step " +
                                  std::to_string(step) + ": " + err);

    v1::ReleaseLeasesAck ack;
    apply_durable(durable);
    for (const std::string& gid : forgotten) done.erase(gid);
    if (!forgotten.empty())
        spdlog::warn(
            "buffer: resume from step {}, but a newer checkpoint (gone now) covered steps up to {}: the {} "
            "groups steps {}-{} trained are no longer done; their prompts are generated and trained again",
            step, newest_done, forgotten.size(), step + 1, newest_done);
    for (uint64_t id : replay) {
        ack.set_groups_replayed(ack.groups_replayed() +
                                static_cast<uint32_t>(index.find_lease(id)->group_ids.size()));
        index.release_lease(id);
    }
    index.erase_groups(discarded);
    for (auto& [gid, prompt] : again) redispatch[gid] = prompt;
    if (lower) max_trainer_version = version;
    ack.set_groups_discarded(static_cast<uint32_t>(discarded.size()));
    ack.set_partials_trimmed(trimmed);
    if (!durable.empty() || !replay.empty() || !discarded.empty() || trimmed > 0)
        spdlog::warn(
            "buffer: resume from step {} (version {}): {} trained batches done, {} groups trained after it "
            "served again, {} groups holding a newer version dropped{}{}, {} in-flight groups dropped",
            step, version, durable.size(), ack.groups_replayed(), discarded.size(),
            discarded.empty() ? "" : " (first: ", discarded.empty() ? "" : discarded.front() + ")", trimmed);
    return ack;
}

void BufferServer::Impl::expire_leases() {
    std::vector<uint64_t> ids = index.expired_leases(steady_ms());
    int64_t groups = end_leases(ids);
    if (groups <= 0) return;
    counters.leases_expired += groups;
    spdlog::warn("buffer: {} leases ({} groups) expired after {} ms without commit; serving them again",
                 ids.size(), groups, cfg.lease_timeout_ms);
}

}  // namespace stride
