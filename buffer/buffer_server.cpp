// buffer/buffer_server.cpp: the experience buffer's request loop. See buffer_server.h and
// buffer/README.md.
//
// Durability and group commit: puts are validated and staged into one RocksDB WriteBatch; the loop
// drains every request already queued on the socket (up to max_drain), then writes the batch once
// (one fsync when sync_wal) and only then sends the PutAcks. Any other request first flushes the
// staged puts, so a pull never leases a sample that is not yet durable.
//
// Only puts are fsynced (when sync_wal): losing a lease, commit or stale drop to a power failure
// replays a batch or re-drops a group, it never loses an acknowledged sample.
//
// The in-memory GroupIndex is changed only after the RocksDB write that carries the same change has
// succeeded; a failed write leaves memory and disk as they were and the request gets an INTERNAL error.
#include "buffer/buffer_server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "buffer/buffer_metrics.h"
#include "buffer/group_index.h"
#include "buffer/resume_trim.h"
#include "buffer/sample_check.h"
#include "buffer/sample_store.h"
#include "common/base/error.h"
#include "common/messaging.h"

namespace stride {

namespace {

constexpr int kIdlePollMs = 20;            // how long the loop waits for a request before housekeeping
constexpr size_t kCommittedMemory = 1024;  // committed batch ids remembered for idempotent commits
constexpr uint32_t kBusyRetryAfterMs = 50;

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// What staleness looks at: the oldest policy version that produced any token of the sample.
int64_t oldest_version(const v1::Sample& s) {
    if (s.token_version_size() == 0) return s.policy_version();
    return *std::min_element(s.token_version().begin(), s.token_version().end());
}

// What a resume looks at: the newest policy version that produced any token of the sample.
int64_t newest_version(const v1::Sample& s) {
    if (s.token_version_size() == 0) return s.policy_version();
    return std::max(s.policy_version(),
                    *std::max_element(s.token_version().begin(), s.token_version().end()));
}

SampleRef sample_ref(const v1::Sample& s, size_t bytes) {
    return {s.sample_id(), bytes, oldest_version(s), newest_version(s), s.index_in_group()};
}

std::string pending_key(const std::string& group_id, const std::string& sample_id) {
    return group_id + '\0' + sample_id;
}

std::string index_key(const std::string& group_id, uint32_t index_in_group) {
    return group_id + '\0' + std::to_string(index_in_group);
}

}  // namespace

struct BufferServer::Impl {
    explicit Impl(const BufferServerConfig& c);

    void run();
    void handle(Request& req);
    void handle_put(Request& req, const v1::Envelope& env);
    void flush_puts();
    void handle_pull(Request& req, const v1::Envelope& env);
    void handle_commit(Request& req, const v1::Envelope& env);
    void handle_release(Request& req, const v1::Envelope& env);
    void handle_checkpoint_durable(Request& req, const v1::Envelope& env);
    // Deletes the groups trained by steps <= step and remembers them as done (into wb; the index and
    // `done` change only through apply_durable once wb is written). Returns their sample count.
    uint64_t plan_durable(int64_t step, StoreBatch& wb, std::vector<uint64_t>* batches);
    void apply_durable(const std::vector<uint64_t>& batches);
    // The trainer resumed from the checkpoint of `step` (policy `version`): see buffer/README.md.
    v1::ReleaseLeasesAck resume_from(int64_t step, int64_t version);
    void handle_stats(Request& req);
    void handle_save_partials(Request& req, const v1::Envelope& env);
    void handle_load_partials(Request& req);
    void expire_leases();
    void recover();
    // "" if s may be stored, else why not (naming the sample and field). at_door false (recovery of
    // what an earlier buffer stored): only what would crash or poison the trainer counts, not the
    // limits that may have changed since (response length, bytes, versions ahead).
    std::string validate_sample(const v1::Sample& s, bool at_door = true) const;
    // Ends leases (expiry or release) in one write; returns groups released, or -1 on a write error.
    int64_t end_leases(const std::vector<uint64_t>& ids);
    bool fill_batch(const std::vector<std::string>& group_ids, v1::Batch* batch);
    void reply(Request& req, const v1::Envelope& env) { sock.reply(req, encode_envelope(env)); }
    void reject(Request& req, v1::ErrorCode code, const std::string& message);
    void publish_stats();

    BufferServerConfig cfg;
    ZmqContext ctx;
    SampleStore store;
    ReplySocket sock;
    GroupIndex index;
    BufferStats counters;                  // touched only by the serving thread
    BufferMetrics prometheus{cfg.job_id};  // /metrics twin of `counters`
    std::set<uint64_t> committed;
    // Groups trained by a checkpointed step -> the step that trained them: a put of them again is
    // acknowledged, not stored. A resume from an older checkpoint forgets those of later steps.
    std::unordered_map<std::string, int64_t> done;
    // Group id -> prompt id of what a resume deleted and nobody put again since: each ReleaseLeasesAck
    // lists them (redispatch_prompt_ids) so the trainer can have the dispatcher hand them out again.
    // Stored too ('r' records), so a buffer restarted before the trainer asked still knows them.
    std::map<std::string, std::string> redispatch;
    uint64_t next_batch_id = 1;
    struct LastPull {
        uint64_t request_id = 0;
        uint64_t batch_id = 0;
    };
    std::unordered_map<std::string, LastPull> last_pull;  // trainer_id -> its last leasing pull

    // Puts staged for the next group commit.
    struct StagedSample {
        std::string group_id;
        SampleRef ref;
    };
    struct PendingPut {
        Request req;
        v1::PutAck ack;
    };
    std::unique_ptr<StoreBatch> staged_batch = std::make_unique<StoreBatch>();
    std::vector<StagedSample> staged;
    std::vector<PendingPut> pending;
    std::unordered_map<std::string, uint32_t> pending_group_counts;
    std::unordered_set<std::string> pending_keys;
    std::unordered_set<std::string> pending_indices;  // index_key of staged samples
    // The newest trainer version named by a pull (persisted; -1: none yet): the upper bound of
    // sample versions (cfg.max_version_ahead).
    int64_t max_trainer_version = -1;

    std::ofstream ack_log;  // cfg.ack_log, when set

    std::atomic<bool> stop_requested{false};
    std::thread thread;
    mutable std::mutex published_mutex;
    BufferStats published;
    std::string published_failure;  // store.failure(), for other threads
    std::string bound_endpoint;
};

BufferServer::Impl::Impl(const BufferServerConfig& c)
    : cfg(c),
      ctx(c.curve),
      store(c.dir, c.sync_wal),
      sock(ctx, c.endpoint, c.max_message_bytes),
      index(c.group_size) {
    STRIDE_CHECK(cfg.group_size > 0, "buffer.group_size must be at least 1");
    STRIDE_CHECK(cfg.max_drain > 0, "buffer.max_drain must be at least 1");
    bound_endpoint = sock.endpoint();
    if (!cfg.ack_log.empty()) {
        ack_log.open(cfg.ack_log, std::ios::app);
        STRIDE_CHECK(ack_log.good(), "buffer: cannot open the acknowledgement log " + cfg.ack_log);
    }
    recover();
    publish_stats();
}

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

// ---- the loop ----------------------------------------------------------------------------------

void BufferServer::Impl::run() {
    while (!stop_requested.load(std::memory_order_relaxed)) {
        if (auto req = sock.recv(kIdlePollMs)) {
            handle(*req);
            // Group commit: everything already queued joins the same RocksDB write.
            for (uint32_t i = 1; i < cfg.max_drain; ++i) {
                auto more = sock.recv(0);
                if (!more) break;
                handle(*more);
            }
            flush_puts();
        }
        expire_leases();
        publish_stats();
    }
    flush_puts();
    publish_stats();
}

void BufferServer::Impl::handle(Request& req) {
    v1::Envelope env;
    EnvelopeCheck check = decode_envelope(req.payload, cfg.job_id, &env);
    if (!check.ok()) {  // answered without our job id: a stranger must not learn it from the reply
        counters.count_rejection(check.code);
        spdlog::debug("buffer: rejected ({}): {}", v1::ErrorCode_Name(check.code), check.message);
        return reply(req, make_rejection(check));
    }
    try {
        if (env.body_case() == v1::Envelope::kPutSamples) return handle_put(req, env);
        flush_puts();  // nothing may observe state that is not durable yet
        switch (env.body_case()) {
            case v1::Envelope::kPullBatch:
                return handle_pull(req, env);
            case v1::Envelope::kCommitBatch:
                return handle_commit(req, env);
            case v1::Envelope::kReleaseLeases:
                return handle_release(req, env);
            case v1::Envelope::kCheckpointDurable:
                return handle_checkpoint_durable(req, env);
            case v1::Envelope::kStatsRequest:
                return handle_stats(req);
            case v1::Envelope::kSavePartials:
                return handle_save_partials(req, env);
            case v1::Envelope::kLoadPartials:
                return handle_load_partials(req);
            default: {
                const auto* field = v1::Envelope::descriptor()->FindFieldByNumber(env.body_case());
                return reject(req, v1::ERROR_CODE_UNKNOWN_BODY,
                              "the buffer does not serve '" + (field ? field->name() : "?") + "' messages");
            }
        }
    } catch (const std::exception& e) {
        // A bug or a storage failure in one request must not take the role down.
        reject(req, v1::ERROR_CODE_INTERNAL, std::string("internal error: ") + e.what());
    }
}

void BufferServer::Impl::reject(Request& req, v1::ErrorCode code, const std::string& message) {
    counters.count_rejection(code);
    if (code == v1::ERROR_CODE_INTERNAL)
        spdlog::error("buffer: {}", message);
    else
        spdlog::debug("buffer: rejected ({}): {}", v1::ErrorCode_Name(code), message);
    reply(req, make_error(cfg.job_id, code, message, code == v1::ERROR_CODE_BUSY ? kBusyRetryAfterMs : 0));
}

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

// ---- in-flight groups of rollout workers ----------------------------------------------------------

void BufferServer::Impl::handle_save_partials(Request& req, const v1::Envelope& env) {
    const v1::SavePartials& sp = env.save_partials();
    const std::string& worker = sp.worker_id();
    if (worker.empty() || worker.find('\0') != std::string::npos)
        return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT,
                      "SavePartials needs a worker_id without NUL bytes");
    StoreBatch wb;
    std::unordered_set<std::string> kept;
    for (const v1::InFlightGroup& g : sp.groups()) {
        const std::string& id = g.prompt().group_id();
        if (id.empty() || id.find('\0') != std::string::npos)
            return reject(
                req, v1::ERROR_CODE_INVALID_ARGUMENT,
                "in-flight group of prompt '" + g.prompt().prompt_id() + "' has no usable group_id");
        if (!kept.insert(id).second)
            return reject(req, v1::ERROR_CODE_INVALID_ARGUMENT, "in-flight group " + id + " saved twice");
        wb.put_partial(worker, id, g.SerializeAsString());
    }
    uint32_t removed = 0;
    store.scan_partials(worker, [&](const std::string&, const std::string& group, const std::string&) {
        if (!kept.count(group)) {
            wb.delete_partial(worker, group);
            ++removed;
        }
    });
    // Synced like a put: a worker that is told its groups are saved may be killed right after.
    std::string err = store.write(wb, /*must_sync=*/true);
    if (!wb.empty()) ++counters.write_batches;
    if (!err.empty())
        return reject(req, v1::ERROR_CODE_INTERNAL, "storage write failed, nothing saved: " + err);
    v1::Envelope out = make_envelope(cfg.job_id);
    out.mutable_save_partials_ack()->set_groups_stored(static_cast<uint32_t>(kept.size()));
    out.mutable_save_partials_ack()->set_groups_removed(removed);
    reply(req, out);
}

void BufferServer::Impl::handle_load_partials(Request& req) {
    v1::Envelope out = make_envelope(cfg.job_id);
    v1::Partials* p = out.mutable_partials();
    uint64_t unreadable = 0;
    store.scan_partials("", [&](const std::string&, const std::string&, const std::string& bytes) {
        if (!p->add_groups()->ParseFromString(bytes)) {
            p->mutable_groups()->RemoveLast();
            ++unreadable;
        }
    });
    if (unreadable) spdlog::warn("buffer: {} unreadable in-flight group records skipped", unreadable);
    reply(req, out);
}

// ---- stats -------------------------------------------------------------------------------------

void BufferServer::Impl::publish_stats() {
    counters.stored_samples = index.stored_samples();
    counters.stored_bytes = index.stored_bytes();
    counters.groups_complete = index.groups_ready();
    counters.groups_leased = index.groups_leased();
    counters.groups_incomplete = index.groups_total() - index.groups_ready() - index.groups_leased();
    counters.leases_open = index.leases_open();
    counters.capacity_samples = cfg.capacity_samples;
    counters.bytes_on_disk = store.bytes_on_disk();
    prometheus.update(counters);
    std::lock_guard<std::mutex> lock(published_mutex);
    published = counters;
    published_failure = store.failure();
}

void BufferServer::Impl::handle_stats(Request& req) {
    publish_stats();
    v1::Envelope out = make_envelope(cfg.job_id);
    counters.to_proto(out.mutable_buffer_stats());
    reply(req, out);
}

// ---- BufferServer ------------------------------------------------------------------------------

BufferServer::BufferServer(const BufferServerConfig& config) : impl_(std::make_unique<Impl>(config)) {}

BufferServer::~BufferServer() {
    stop();
}

void BufferServer::run() {
    impl_->run();
}

void BufferServer::start() {
    STRIDE_CHECK(!impl_->thread.joinable(), "buffer server already started");
    impl_->stop_requested = false;
    impl_->thread = std::thread([this] {
        pthread_setname_np(pthread_self(), "stride-buffer");  // visible in top -H, perf, gdb
        impl_->run();
    });
}

void BufferServer::stop() {
    impl_->stop_requested = true;
    if (impl_->thread.joinable()) impl_->thread.join();
}

std::string BufferServer::endpoint() const {
    return impl_->bound_endpoint;
}

std::string BufferServer::failure() const {
    std::lock_guard<std::mutex> lock(impl_->published_mutex);
    return impl_->published_failure;
}

BufferStats BufferServer::stats() const {
    std::lock_guard<std::mutex> lock(impl_->published_mutex);
    return impl_->published;
}

}  // namespace stride
