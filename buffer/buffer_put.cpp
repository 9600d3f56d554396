// buffer/buffer_put.cpp: PutSamples: validation at the door, staging, and the group commit that acks. See
// buffer_server_impl.h and buffer/README.md.
#include "buffer/buffer_server_impl.h"

#include "buffer/sample_check.h"

namespace stride {

using namespace buffer_impl;

// ---- put ---------------------------------------------------------------------------------------

std::string BufferServer::Impl::validate_sample(const v1::Sample& s, bool at_door) const {
    // Until this buffer directory has seen a pull, the trainer's version is unknown (a resumed trainer
    // may hold any version, and its workers may put before its first pull): no upper bound then,
    // rather than refusing good groups.
    SampleVersionBound bound;
    if (at_door && cfg.max_version_ahead >= 0 && max_trainer_version >= 0)
        bound = {max_trainer_version + cfg.max_version_ahead, max_trainer_version, cfg.max_version_ahead};
    return check_sample(s, cfg, at_door, bound);
}

void BufferServer::Impl::handle_put(Request& req, const v1::Envelope& env) {
    const auto& samples = env.put_samples().samples();
    if (samples.empty()) return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT, "put with no samples");
    const std::string& owner = env.put_samples().partial_owner();
    if (owner.find('\0') != std::string::npos)
        return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT, "partial_owner may not contain NUL bytes");

    // Validate everything before staging anything: a put is all or nothing.
    v1::PutAck ack;
    std::vector<int> fresh;
    std::unordered_set<std::string> local_keys;
    std::unordered_set<std::string> local_indices;
    std::unordered_map<std::string, uint32_t> local_group_counts;
    bool starts_new_group = false;
    for (int i = 0; i < samples.size(); ++i) {
        const v1::Sample& s = samples[i];
        std::string why = validate_sample(s);
        if (!why.empty()) return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT, why);
        std::string key = pending_key(s.group_id(), s.sample_id());
        ack.add_durable_sample_ids(s.sample_id());
        if (done.count(s.group_id())) {  // trained and checkpointed: never stored (or trained) again
            ack.set_duplicates(ack.duplicates() + 1);
            continue;
        }
        if (index.contains(s.group_id(), s.sample_id()) || pending_keys.count(key) || local_keys.count(key)) {
            ack.set_duplicates(ack.duplicates() + 1);  // a retried put: acknowledged, not stored twice
            continue;
        }
        local_keys.insert(key);
        // A second sample at the same position would make a group "complete" with a member missing.
        std::string ikey = index_key(s.group_id(), s.index_in_group());
        if (index.has_index(s.group_id(), s.index_in_group()) || pending_indices.count(ikey) ||
            !local_indices.insert(ikey).second)
            return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT,
                          "sample " + s.sample_id() + ": group " + s.group_id() +
                              " already holds a sample at index_in_group " +
                              std::to_string(s.index_in_group()));
        const GroupEntry* g = index.find(s.group_id());
        auto pending_it = pending_group_counts.find(s.group_id());
        uint32_t have =
            (g ? g->samples.size() : 0) + (pending_it == pending_group_counts.end() ? 0 : pending_it->second);
        if (have == 0) starts_new_group = true;
        uint32_t& local = local_group_counts[s.group_id()];
        if (have + local + 1 > cfg.group_size)
            return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT,
                          "sample " + s.sample_id() + " would be member " + std::to_string(have + local + 1) +
                              " of group " + s.group_id() + " (group_size " + std::to_string(cfg.group_size) +
                              "); group ids must be unique in a job");
        ++local;
        fresh.push_back(i);
    }
    // Back-pressure only on new groups: members of started groups are always admitted, so groups
    // that are already half in the buffer can always complete and be pulled. Trained batches waiting
    // for their checkpoint do not count: only the trainer's next checkpoint can free them, and it
    // needs new groups to get there.
    const uint64_t held = index.stored_samples() - index.trained_samples() + staged.size();
    if (starts_new_group && held + fresh.size() > cfg.capacity_samples)
        return reject(req, v1::ERROR_CODE_BUSY,
                      "buffer full (" + std::to_string(held) + " of " + std::to_string(cfg.capacity_samples) +
                          " samples); retry later");

    for (int i : fresh) {
        const v1::Sample& s = samples[i];
        if (redispatch.erase(s.group_id())) staged_batch->delete_redispatch(s.group_id());  // made again
        std::string bytes = s.SerializeAsString();
        staged_batch->put_sample(s.group_id(), s.sample_id(), bytes);
        staged.push_back({s.group_id(), sample_ref(s, bytes.size())});
        ++pending_group_counts[s.group_id()];
        pending_keys.insert(pending_key(s.group_id(), s.sample_id()));
        pending_indices.insert(index_key(s.group_id(), s.index_in_group()));
    }
    // The producer's in-flight records of these groups go in the same write: once the samples are
    // durable, nobody resumes them again.
    if (!owner.empty()) {
        std::unordered_set<std::string> groups;
        for (const v1::Sample& s : samples)
            if (groups.insert(s.group_id()).second) staged_batch->delete_partial(owner, s.group_id());
    }
    pending.push_back({std::move(req), std::move(ack)});
}

void BufferServer::Impl::flush_puts() {
    if (pending.empty()) return;
    std::string err = store.write(*staged_batch, /*must_sync=*/true);
    if (!staged_batch->empty()) ++counters.write_batches;
    if (err.empty()) {
        if (ack_log.is_open()) {  // before the acks: a sample acknowledged is a sample logged
            for (const auto& s : staged) ack_log << s.group_id << ' ' << s.ref.sample_id << '\n';
            ack_log.flush();
        }
        for (auto& s : staged) index.add_sample(s.group_id, std::move(s.ref));
        counters.samples_put += staged.size();
        for (auto& p : pending) {
            ++counters.puts;
            counters.samples_duplicate += p.ack.duplicates();
            v1::Envelope env = make_envelope(cfg.job_id);
            *env.mutable_put_ack() = std::move(p.ack);
            reply(p.req, env);
        }
    } else {
        for (auto& p : pending)
            reject(p.req, v1::ERROR_CODE_INTERNAL, "storage write failed, nothing stored: " + err);
    }
    staged_batch = std::make_unique<StoreBatch>();
    staged.clear();
    pending.clear();
    pending_group_counts.clear();
    pending_keys.clear();
    pending_indices.clear();
}

}  // namespace stride
