#include "rollout/rollout_worker.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "buffer/buffer_client.h"
#include "common/base/error.h"
#include "common/base/peer_error.h"
#include "common/messaging.h"
#include "common/weight_sync.h"
#include "model/backend.h"
#include "model/generator.h"
#include "reward/reward_queue.h"
#include "rollout/inflight.h"
#include "rollout/kv_admission.h"
#include "rollout/rollout_metrics.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

void add_seconds(std::atomic<double>& a, double s) {
    double cur = a.load();
    while (!a.compare_exchange_weak(cur, cur + s)) {
    }
}

// In-flight records and the puts of a stopping worker: short, and without the stop flag, since they are
// what a stopping worker still has to say.
BufferClientOptions quick_options(const DeadlinesConfig& deadlines) {
    BufferClientOptions o = buffer_client_options(deadlines, nullptr);
    o.deadline_ms = std::min(o.deadline_ms, 2000);
    o.call_timeout_ms = std::min(o.deadline_ms, 1000);
    o.deadline_key = "a stopping worker's saves: 2 s, at most deadlines.buffer_s";
    return o;
}

// What a stopping worker still waits for an answer under way (prompt requests).
constexpr int kStopGraceMs = 500;
// One attempt at a weight fetch or a prompt request: short, so that a stop is seen within it.
constexpr int kAttemptMs = 1000;

double seconds_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
}

// PID and random bits: differs between two runs of one worker id, also across machines and pid reuse.
std::string make_run_nonce() {
    std::random_device rd;
    return std::to_string(getpid()) + "-" + std::to_string((static_cast<uint64_t>(rd()) << 32) | rd());
}

int longest_prompt(const JobContext& ctx) {
    size_t m = 1;
    for (const TokenizedPrompt& p : ctx.train) m = std::max(m, p.ids.size());
    return static_cast<int>(m);
}

// One run of a worker: the engine, the groups in flight and the loop that drives them.
class Loop {
   public:
    Loop(const JobContext& ctx, const std::string& id, const RolloutEndpoints& ep, RolloutStats& stats,
         const std::atomic<bool>& stop, const std::function<void(int64_t)>& round_hook,
         DeviceWeightSlot* slot, const std::optional<WeightGroupOptions>& group_opt,
         const WeightChannelFactory& group_channels);
    void run();

   private:
    // weights
    void adopt();
    bool take_device_weights();
    bool take_group_weights();
    void switched_to(int64_t version);
    void load_weights(int64_t at_least);
    bool poll_weights();
    // prompts and in-flight groups
    void resume_partials();
    int request_prompts();
    v1::Envelope prompt_request(uint32_t max_prompts);
    void report_holdings();
    GenerationRequest request_for(const v1::Prompt& p, uint64_t id) const;
    int mid_round_budget() const;
    uint64_t add_group(PendingGroup g, std::vector<GeneratedSequence> partial);
    void deliver(uint64_t request_id);
    void drop_group(uint64_t request_id);
    void abort_stale();
    void save_partials();
    // generation and rewards
    void round_boundary();
    void step();
    void on_finished(const GeneratedSequence& s);
    void submit_reward(uint64_t request_id, PendingGroup& g, v1::Sample smp);
    void collect_rewards();
    void log_reward_failure(const RewardResult& r, const v1::Sample& smp);
    void idle();
    // Throws PeerUnreachable when the weight publisher has not answered for deadlines.weights_s.
    void check_publisher_alive() const;

    const JobContext& ctx_;
    const JobConfig& cfg_;
    const std::string id_;
    RolloutStats& stats_;
    const std::atomic<bool>& stop_;
    const std::function<void(int64_t)>& round_hook_;
    DeviceWeightSlot* slot_;  // colocated trainer's versions on this GPU, or null
    const bool async_, segmented_;
    const int n_;

    ZmqContext zctx_;
    RequestClient scheduler_;
    BufferClient buffer_;  // puts: retried until durable (or its deadline passes)
    // In-flight records: a failed save is logged and made good by the next one, so the worker never
    // hangs on a buffer that went away (e.g. the job is stopping).
    BufferClient records_;
    WeightSubscriber weights_;
    RolloutMetrics metrics_;
    // Finished samples are scored here, off the decode loop; a group goes to the buffer once all n
    // are back. Bounded: submit waits for room when rewards fall behind (counted in the metrics).
    RewardQueue rewards_;
    struct Scoring {
        uint64_t request_id;
        uint32_t index_in_group;
    };
    std::unordered_map<uint64_t, Scoring> scoring_;  // by reward queue tag
    uint64_t next_tag_ = 0;
    Model model_;
    WeightBlob blob_;
    int64_t version_ = -1;
    WeightsHeld held_;  // every version adopted, with its weights' CRC-32C (Sample.weights_used)
    // weights.transport: nccl: this worker's end of the NCCL weight group (after weights_: its skip
    // refers to it).
    std::unique_ptr<WeightGroupReceiver> group_;
    GeneratorOptions gen_opt_;
    std::unique_ptr<Generator> gen_;
    AdmissionLimits limits_;

    std::map<uint64_t, PendingGroup> pending_;   // by request id
    std::unordered_set<std::string> group_ids_;  // of pending_
    // Groups a resumed job's scheduler may hand out again but that must not start twice: those other
    // workers resume, and those this worker resumed (in flight or delivered since).
    std::unordered_set<std::string> not_again_;
    uint64_t next_request_ = 0;
    int round_steps_ = 0;           // segment rollout: decode steps since the round began
    uint64_t flat_groups_ = 0;      // put groups whose samples all score alike (PromptRequest.flat_groups)
    const std::string run_nonce_;   // PromptRequest.worker_run: tells the dispatcher a restart from a retry
    uint64_t request_seq_ = 0;      // of the last prompt request
    bool request_answered_ = true;  // false: the next request repeats request_seq_ (a retry)
    // Prompt ids of groups put (or given up) since the last answered request: reported with those in
    // flight, so that a restarted run's first report covers what it resumed and put at once.
    std::vector<std::string> left_since_report_;
    bool finished_ = false;   // the scheduler has no more prompts
    bool changed_ = false;    // in-flight state changed since the last save
    bool saved_any_ = false;  // the buffer may hold records of ours
    // Distinct texts of reward errors and timeouts logged so far (at most kRewardTextsLogged).
    static constexpr size_t kRewardTextsLogged = 5;
    std::set<std::string> reward_texts_logged_;
    Clock::time_point last_poll_ = Clock::now();
    // Since when the dispatcher has answered none of our prompt requests (unset while it answers).
    std::optional<Clock::time_point> dispatcher_silent_since_;
};

Loop::Loop(const JobContext& ctx, const std::string& id, const RolloutEndpoints& ep, RolloutStats& stats,
           const std::atomic<bool>& stop, const std::function<void(int64_t)>& round_hook,
           DeviceWeightSlot* slot, const std::optional<WeightGroupOptions>& group_opt,
           const WeightChannelFactory& group_channels)
    : ctx_(ctx),
      cfg_(ctx.cfg),
      id_(id),
      stats_(stats),
      stop_(stop),
      round_hook_(round_hook),
      slot_(slot),
      async_(ctx.cfg.rollout.mode == "async"),
      segmented_(ctx.cfg.rollout.segment_tokens > 0),
      n_(ctx.cfg.rollout.n),
      zctx_(ctx.curve),
      scheduler_(zctx_, ep.scheduler, ctx.job_id),
      // deadlines.buffer_s bounds every put; a stopping worker is never held by a buffer that went away.
      buffer_(zctx_, ep.buffer, ctx.job_id, buffer_client_options(ctx.cfg.deadlines, &stop)),
      records_(zctx_, ep.buffer, ctx.job_id, quick_options(ctx.cfg.deadlines)),
      weights_(ctx.job_id, ep.weights, 8, ctx.cfg.weights.transport != "zmq", ctx.curve),
      metrics_(ctx.job_id, id),
      rewards_(ctx.reward, {.capacity = 4 * std::max(1, ctx.cfg.rollout.max_batch_seqs),
                            .max_batch = 64,
                            .threads = std::max(1, ctx.cfg.reward.workers)}),
      model_(ctx.model_config()),
      run_nonce_(make_run_nonce()) {
    stats_.reward_queue_capacity = static_cast<int64_t>(rewards_.capacity());
    gen_opt_.max_running = cfg_.rollout.max_batch_seqs;
    gen_opt_.max_batch_tokens = std::max(2048, gen_opt_.max_running);
    gen_opt_.block_size = cfg_.rollout.block_size;
    gen_opt_.kv_dtype = parse_kv_dtype(cfg_.rollout.kv_dtype);
    if (cfg_.rollout.kv_blocks > 0) gen_opt_.kv_blocks = cfg_.rollout.kv_blocks;
    gen_opt_.backend = &backend_for_device(rollout_device(cfg_));  // checked at config load
    gen_opt_.weight_dtype = parse_weight_dtype(rollout_dtype(cfg_));
    gen_opt_.kv_memory_fraction = cfg_.rollout.kv_memory_fraction;  // used on a GPU when kv_blocks is 0
    limits_.max_running = gen_opt_.max_running;
    limits_.n = n_;
    limits_.prompt_tokens = longest_prompt(ctx);
    gen_opt_.kv_min_tokens =
        limits_.prompt_tokens + cfg_.rollout.max_tokens;  // a GPU pool holds one at least
    limits_.horizon =
        segmented_ ? std::min(cfg_.rollout.segment_tokens, cfg_.rollout.max_tokens) : cfg_.rollout.max_tokens;
    if (group_opt) {
        group_ =
            std::make_unique<WeightGroupReceiver>(*group_opt, group_channels, ep.weights, model_.data.size());
        weights_.set_skip([g = group_.get()](const v1::WeightUpdate& u) { return g->expects(u); });
    }
}

// ---- weights ---------------------------------------------------------------------------------------

// Copies a fetched version into the engine's weights. Only called between generator steps, so a
// version switch is atomic for the decoder; in-flight sequences either keep their KV (stale prefix)
// or recompute it under the new weights when they next run.
void Loop::adopt() {
    STRIDE_CHECK(blob_.bytes.size() == model_.data.size() * sizeof(float),
                 "rollout " + id_ + ": weight blob of " + std::to_string(blob_.bytes.size()) +
                     " bytes does not match the model (" + std::to_string(model_.data.size() * 4) + ")");
    std::memcpy(model_.data.data(), blob_.bytes.data(), blob_.bytes.size());
    held_[blob_.version] = blob_.crc32c;
    if (gen_) gen_->weights_changed();  // one copy into the device's weights (nothing to do on the CPU)
    switched_to(blob_.version);
}

// A colocated trainer's newer version, copied from its slot into the generator's device weights
// (device to device); false when there is no slot, no generator yet or nothing newer there. The
// slot carries no CRC-32C: samples of such a version name no weights (the audit judges them by time).
bool Loop::take_device_weights() {
    if (!slot_ || !gen_ || !gen_->weights().has_own_copy()) return false;
    const int64_t v = slot_->take_if_newer(version_, gen_->weights());
    if (v < 0) return false;
    switched_to(v);
    return true;
}

// A version the NCCL weight group delivered (checked), into the engine's weights; false when there is
// none newer. Its weights are the trainer's rounded to bf16, not the published fp32 bytes: like the
// slot's, its samples name no weights' CRC-32C.
bool Loop::take_group_weights() {
    if (!group_) return false;
    std::optional<ReceivedWeights> r = group_->take_if_newer(version_);
    if (!r) return false;
    STRIDE_CHECK(r->weights.size() == model_.data.size(),
                 "rollout " + id_ + ": weight group version of " + std::to_string(r->weights.size()) +
                     " weights does not match the model (" + std::to_string(model_.data.size()) + ")");
    std::memcpy(model_.data.data(), r->weights.data(), r->weights.size() * sizeof(float));
    if (gen_) gen_->weights_changed();
    switched_to(r->version);
    return true;
}

// The engine computes with `version` from now on.
void Loop::switched_to(int64_t version) {
    version_ = version;
    ++stats_.weight_updates;
    metrics_.weights_loaded(version_);
    if (gen_) {
        if (cfg_.rollout.kv_on_update == "recompute") gen_->drop_kv();
        gen_->set_policy_version(version_);
        abort_stale();
    }
}

// Blocks until the publisher holds a version >= at_least (or stop). A publisher that answers with an
// older version is alive (the trainer is still training): only silence counts against the deadline.
void Loop::load_weights(int64_t at_least) {
    const int attempt_ms = std::min(kAttemptMs, deadline_ms(cfg_.deadlines.weights_s));
    while (!stop_ && version_ < at_least) {
        if (take_device_weights() || take_group_weights()) continue;
        if (weights_.fetch_if_newer(version_, attempt_ms, blob_, &metrics_.fetch)) {
            adopt();
        } else if (version_ < at_least) {
            check_publisher_alive();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
}

bool Loop::poll_weights() {
    last_poll_ = Clock::now();
    if (take_device_weights() || take_group_weights()) return true;
    const int attempt_ms = std::min(kAttemptMs, deadline_ms(cfg_.deadlines.weights_s));
    if (!weights_.fetch_if_newer(version_, attempt_ms, blob_, &metrics_.fetch)) {
        check_publisher_alive();
        return false;
    }
    adopt();
    return true;
}

void Loop::check_publisher_alive() const {
    const double silent = seconds_between(weights_.last_answer(), Clock::now());
    if (silent < cfg_.deadlines.weights_s) return;
    throw PeerUnreachable(
        "weight publisher",
        fmt::format("rollout {}: the weight publisher (trainer) at {} did not answer for {:.1f} s "
                    "(deadlines.weights_s = {}): it is down or stuck",
                    id_, weights_.endpoint(), silent, cfg_.deadlines.weights_s));
}

// ---- in-flight groups --------------------------------------------------------------------------------

GenerationRequest Loop::request_for(const v1::Prompt& p, uint64_t id) const {
    GenerationRequest r;
    r.id = id;
    r.prompt.assign(p.token_ids().begin(), p.token_ids().end());
    r.max_new_tokens = cfg_.rollout.max_tokens;
    r.stop_tokens = ctx_.stop_tokens;
    r.sampling.temperature = static_cast<float>(cfg_.rollout.temperature);
    r.sampling.top_p = static_cast<float>(cfg_.rollout.top_p);
    r.sampling.top_k = std::max(0, cfg_.rollout.top_k);
    // Seeded by (job seed, prompt id): reruns of a job, and a resumed group, draw the same samples.
    r.sampling.seed =
        static_cast<uint64_t>(cfg_.seed) * 0x9E3779B97F4A7C15ull + std::hash<std::string>{}(p.prompt_id());
    r.n = n_;
    r.segment_tokens = cfg_.rollout.segment_tokens;
    r.first_segment_tokens = mid_round_budget();
    return r;
}

// Segment rollout, a round under way: what is left of it, the first segment of a group taken now
// (0 between rounds: the group starts with the next round and a whole segment).
int Loop::mid_round_budget() const {
    if (!segmented_ || gen_->round_done()) return 0;
    return std::max(0, cfg_.rollout.segment_tokens - round_steps_);
}

// `partial`: the samples to continue (resume); empty for a fresh prompt. Returns the request id.
uint64_t Loop::add_group(PendingGroup g, std::vector<GeneratedSequence> partial) {
    const uint64_t id = next_request_++;
    const GenerationRequest r = request_for(g.prompt, id);
    const bool fresh =
        std::all_of(partial.begin(), partial.end(), [](const auto& s) { return s.tokens.empty(); });
    if (!g.resumed || (fresh && static_cast<int>(partial.size()) == n_)) {
        gen_->add(r);  // the group shares its prompt's KV
    } else if (!partial.empty()) {
        for (auto& s : partial) s.request_id = id;
        gen_->add_resumed(r, partial);
    }  // else every sample is finished: only rewards are missing
    // Samples a previous run finished but did not see scored are scored now.
    std::vector<v1::Sample> rescore = std::move(g.scoring);
    g.scoring.clear();
    group_ids_.insert(g.prompt.group_id());
    PendingGroup& added = pending_.emplace(id, std::move(g)).first->second;
    stats_.samples_rescored += static_cast<int64_t>(rescore.size());
    for (v1::Sample& smp : rescore) submit_reward(id, added, std::move(smp));
    changed_ = true;
    return id;
}

// Puts a group whose n samples are all scored into the buffer; returns once it is durable (the put
// retires its in-flight record). Once stopping, the buffer may be gone already (the processes launcher
// stops every role at once): then the put gives up soon and the group stays in flight, saved complete
// if the buffer still answers, for the next run to put.
//
// A group the buffer refuses as invalid (a token outside the vocabulary, a NaN log-prob, ...) can never
// be put: it is logged once with the buffer's reason and dropped, counted in groups_refused, instead of
// failing the worker (which would resume the same group and fail again).
void Loop::deliver(uint64_t request_id) {
    try {
        (stop_ ? records_ : buffer_).put(pending_.at(request_id).done, id_);
    } catch (const BufferRejected& e) {
        if (e.code() != v1::ERROR_CODE_INVALID_ARGUMENT) throw;
        spdlog::error("rollout {}: the buffer refused group {}; dropped: {}", id_,
                      pending_.at(request_id).prompt.group_id(), e.what());
        ++stats_.groups_refused;
        drop_group(request_id);
        return;
    } catch (const std::exception& e) {
        if (!stop_) throw;
        spdlog::warn("rollout {}: stopping, could not put a finished group: {}", id_, e.what());
        return;
    }
    ++stats_.groups;
    if (is_flat(pending_.at(request_id).done)) ++flat_groups_;
    metrics_.group_put();
    drop_group(request_id);
}

void Loop::drop_group(uint64_t request_id) {
    const PendingGroup& g = pending_.at(request_id);
    left_since_report_.push_back(g.prompt.prompt_id());
    if (g.resumed) not_again_.insert(g.prompt.group_id());
    group_ids_.erase(g.prompt.group_id());
    pending_.erase(request_id);
    changed_ = true;
}

// What a previous run of this worker left in flight continues here; groups other workers left are
// theirs to resume, so a scheduler that hands them out again (a resumed job) does not start them twice.
void Loop::resume_partials() {
    std::vector<v1::InFlightGroup> records;
    const auto start = Clock::now();
    for (;;) {  // the buffer may still be starting (for at most deadlines.buffer_s); the job may be stopping
        try {
            records = records_.load_partials();
            break;
        } catch (const std::exception& e) {
            if (stop_) return;
            const double waited = seconds_between(start, Clock::now());
            if (waited >= cfg_.deadlines.buffer_s)
                throw PeerUnreachable("buffer",
                                      fmt::format("rollout {}: loading in-flight groups: {} (gave up "
                                                  "after {:.1f} s, deadlines.buffer_s = {})",
                                                  id_, e.what(), waited, cfg_.deadlines.buffer_s));
            spdlog::warn("rollout {}: loading in-flight groups: {}; retrying", id_, e.what());
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }
    int resumed = 0;
    for (const v1::InFlightGroup& rec : records) {
        if (rec.worker_id() != id_) {
            not_again_.insert(rec.prompt().group_id());
            continue;
        }
        saved_any_ = true;  // whatever cannot be resumed is removed by the next save
        PendingGroup g = pending_from_record(rec);
        std::set<int> seen;
        for (const auto* finished : {&g.done, &g.scoring})
            for (const v1::Sample& s : *finished) seen.insert(static_cast<int>(s.index_in_group()));
        std::vector<GeneratedSequence> partial;
        for (const v1::Sample& s : rec.unfinished()) {
            partial.push_back(resumable(s, 0));
            seen.insert(static_cast<int>(s.index_in_group()));
        }
        for (int k = 0; k < n_; ++k) {
            if (seen.count(k)) continue;
            v1::Sample not_started;  // lost before its first token was saved: starts from the prompt
            not_started.set_index_in_group(static_cast<uint32_t>(k));
            partial.push_back(resumable(not_started, 0));
            seen.insert(k);
        }
        try {
            STRIDE_CHECK(static_cast<int>(seen.size()) == n_ && *seen.rbegin() == n_ - 1,
                         "its samples do not form a group of rollout.n = " + std::to_string(n_));
            // Complete: saved by a stop whose put did not get through; put now (the buffer deduplicates).
            const bool complete = static_cast<int>(g.done.size()) == n_;
            const uint64_t id = add_group(std::move(g), std::move(partial));
            ++resumed;
            if (complete) deliver(id);
        } catch (const Error& e) {
            // A record from a differently configured run: dropped (the next save removes it).
            spdlog::warn("rollout {}: cannot resume group {}: {}", id_, rec.prompt().group_id(), e.what());
        }
    }
    if (resumed > 0) {
        spdlog::info("rollout {}: resumed {} in-flight groups of a previous run", id_, resumed);
        stats_.groups_resumed += resumed;
        metrics_.groups_resumed(resumed);
    }
}

// Async: a group holding a token older than the buffer's staleness bound allows would be dropped by
// the buffer at the trainer's next pull (the trainer's version is at least ours), so generating the
// rest of it is wasted work. Sync mode has no bound.
void Loop::abort_stale() {
    if (!async_) return;
    const int64_t floor = version_ - cfg_.buffer.max_staleness;
    const std::vector<GeneratedSequence> unfinished = gen_->unfinished();
    std::map<uint64_t, std::vector<const GeneratedSequence*>> by_request;
    for (const auto& s : unfinished) by_request[s.request_id].push_back(&s);
    std::vector<uint64_t> doomed;
    for (const auto& [rid, g] : pending_) {
        auto oldest = oldest_token_version(g, by_request[rid]);
        if (oldest && *oldest < floor) doomed.push_back(rid);
    }
    for (uint64_t rid : doomed) {
        gen_->cancel(rid);
        drop_group(rid);
    }
    if (doomed.empty()) return;
    spdlog::info("rollout {}: gave up {} groups with tokens older than version {} (buffer.max_staleness {})",
                 id_, doomed.size(), floor, cfg_.buffer.max_staleness);
    stats_.groups_aborted += static_cast<int64_t>(doomed.size());
    metrics_.groups_aborted(static_cast<int>(doomed.size()));
}

void Loop::save_partials() {
    const std::vector<GeneratedSequence> unfinished = gen_->unfinished();
    std::map<uint64_t, std::vector<const GeneratedSequence*>> by_request;
    for (const auto& s : unfinished) by_request[s.request_id].push_back(&s);
    std::vector<v1::InFlightGroup> records;
    for (const auto& [rid, g] : pending_)
        records.push_back(inflight_record(g, by_request[rid], n_, id_, held_));
    if (records.empty() && !saved_any_) return;
    try {
        records_.save_partials(id_, records);
    } catch (const std::exception& e) {
        spdlog::warn("rollout {}: could not save {} in-flight groups: {}", id_, records.size(), e.what());
        return;  // changed_ stays set: the next boundary tries again
    }
    saved_any_ = !records.empty();
    changed_ = false;
}

// A PromptRequest for up to max_prompts, reporting what this worker holds.
v1::Envelope Loop::prompt_request(uint32_t max_prompts) {
    v1::Envelope req = make_envelope(ctx_.job_id);
    v1::PromptRequest* pr = req.mutable_prompt_request();
    pr->set_worker_id(id_);
    pr->set_max_prompts(max_prompts);
    pr->set_policy_version(version_);
    pr->set_flat_groups(flat_groups_);
    // Mid-round the weights cannot change (each segment is one version's): only prompts ours may generate.
    pr->set_hold_version(mid_round_budget() > 0);
    // Who holds what, for the dispatcher's re-dispatch of a lost worker's prompts; a request whose
    // reply was lost is repeated under its number, so its prompts are not handed out into the void.
    pr->set_worker_run(run_nonce_);
    if (request_answered_) ++request_seq_;
    pr->set_request_seq(request_seq_);
    // The gate paces new prompts by our oldest group in flight (see prompt_dispatcher.cpp). Its tokens
    // were all sampled by the version it started under or later.
    for (const std::string& id : left_since_report_) pr->add_inflight_prompt_ids(id);
    for (const auto& [rid, g] : pending_) {
        pr->add_inflight_prompt_ids(g.prompt.prompt_id());
        if (!pr->has_oldest_inflight_version() || g.version < pr->oldest_inflight_version())
            pr->set_oldest_inflight_version(g.version);
    }
    return req;
}

// Stopping: tells the dispatcher what this run still holds (what it just saved for its successor),
// so that a successor under the same id is not handed again what this run put since its last request.
// Best effort: a scheduler that is gone is not waited for.
void Loop::report_holdings() {
    request_answered_ = scheduler_.call(prompt_request(0), 500).has_value();
    if (request_answered_) left_since_report_.clear();
}

// Asks the scheduler for as many groups as the seats and the KV budget allow; returns how many were
// added to the engine.
int Loop::request_prompts() {
    if (finished_) return 0;
    const Admission room = groups_that_fit(*gen_, limits_);
    if (room.groups <= 0) return 0;
    if (room.groups < room.seats) {
        ++stats_.kv_limited_requests;
        metrics_.admission_kv_limited();
    }
    v1::Envelope req = prompt_request(static_cast<uint32_t>(room.groups));
    const auto sent = Clock::now();
    auto reply = scheduler_.call(req, std::min(kAttemptMs, deadline_ms(cfg_.deadlines.dispatcher_s)), &stop_,
                                 kStopGraceMs);
    request_answered_ = reply.has_value();
    if (!reply) {
        // Asked again at the next turn of the loop; silence for deadlines.dispatcher_s is the end.
        if (!dispatcher_silent_since_) dispatcher_silent_since_ = sent;
        const double silent = seconds_between(*dispatcher_silent_since_, Clock::now());
        if (silent >= cfg_.deadlines.dispatcher_s && !stop_)
            throw PeerUnreachable(
                "prompt dispatcher",
                fmt::format("rollout {}: the prompt dispatcher at {} did not answer for {:.1f} s "
                            "(deadlines.dispatcher_s = {}): it is down or stuck",
                            id_, scheduler_.endpoint(), silent, cfg_.deadlines.dispatcher_s));
        return 0;
    }
    dispatcher_silent_since_.reset();
    left_since_report_.clear();
    if (reply->has_error())
        throw Error("rollout " + id_ + ": scheduler refused: " + reply->error().message());
    if (!reply->has_prompt_batch()) return 0;
    const v1::PromptBatch& pb = reply->prompt_batch();
    finished_ = pb.finished();
    metrics_.prompts_received(pb.prompts_size());
    if (pb.prompts_size() == 0) return 0;
    // The gate may require a newer version than this worker holds: generate these with it (in-flight
    // sequences continue under it too, their tokens record the switch).
    load_weights(pb.min_policy_version());
    // Stopped while waiting for that version (the trainer died; a pause or SIGTERM): taking them with
    // older weights would save in-flight records a resume cannot tell from valid ones, and the next run
    // would generate them too old for their step (sync mode: never trained, the job stalls). Leave
    // them: the next run does not report them, so the dispatcher hands them out again.
    if (version_ < pb.min_policy_version()) return 0;
    int added = 0;
    for (const v1::Prompt& p : pb.prompts()) {
        PendingGroup g = take_prompt(p, version_);
        // A prompt handed out again is ours even if a lost worker's record names it.
        if (group_ids_.count(g.prompt.group_id()) ||
            (!p.redispatched() && not_again_.count(g.prompt.group_id()))) {
            ++stats_.prompts_skipped;  // resumed from a previous run already (here or elsewhere)
            continue;
        }
        add_group(std::move(g), {});
        ++stats_.prompts_taken;
        ++added;
    }
    return added;
}

// ---- generation --------------------------------------------------------------------------------------

// Between two rounds every unfinished response is parked: switch weights, give up what is too stale,
// take new prompts, save the in-flight groups, then start the next round.
void Loop::round_boundary() {
    if (round_hook_ && gen_->num_parked() > 0) round_hook_(stats_.rounds);
    if (async_) poll_weights();
    request_prompts();
    if (changed_) save_partials();
    if (gen_->num_parked() == 0 && gen_->num_waiting() == 0) return;  // nothing to do yet
    int carried = 0;
    int64_t tokens = 0;
    for (const GeneratedSequence& s : gen_->unfinished())
        if (!s.tokens.empty()) ++carried, tokens += static_cast<int64_t>(s.tokens.size());
    gen_->begin_round();
    round_steps_ = 0;
    ++stats_.rounds;
    stats_.carried_sequences += carried;
    stats_.carried_tokens += tokens;
    metrics_.round_begun(carried, tokens);
}

void Loop::step() {
    const auto t0 = Clock::now();
    const std::vector<GeneratedSequence> out = gen_->step();
    ++round_steps_;
    changed_ = true;
    metrics_.engine_stepped(*gen_);
    const GeneratorStats& gs = gen_->stats();
    stats_.engine_steps = gs.steps;
    stats_.batch_seqs = gs.batch_seqs;
    stats_.preemptions = gs.preemptions;
    stats_.evictions = gs.evictions;
    for (const GeneratedSequence& s : out) on_finished(s);
    collect_rewards();
    add_seconds(stats_.busy_s, seconds_since(t0));
    metrics_.busy(seconds_since(t0));
}

// A finished response is handed to the reward queue; decoding goes on while it is scored.
void Loop::on_finished(const GeneratedSequence& s) {
    PendingGroup& g = pending_.at(s.request_id);
    v1::Sample smp = response_sample(g, s, n_, id_, held_);
    set_finish_reason(smp, s.reason);
    smp.mutable_timing()->set_generate_ms(
        std::chrono::duration<double, std::milli>(Clock::now() - g.started).count());
    stats_.tokens += static_cast<int64_t>(s.tokens.size());
    submit_reward(s.request_id, g, std::move(smp));
}

// The sample waits in g.scoring (so that in-flight saves record it, reward PENDING) until scored.
void Loop::submit_reward(uint64_t request_id, PendingGroup& g, v1::Sample smp) {
    RewardInput in = reward_input(g.prompt, smp, ctx_.tokenizer, ctx_.stop_tokens);
    const uint64_t tag = next_tag_++;
    scoring_.emplace(tag, Scoring{request_id, smp.index_in_group()});
    g.scoring.push_back(std::move(smp));
    rewards_.submit(tag, std::move(in));  // waits only while the queue is full
}

// Rewards scored since the last call: each completes its sample; a group with all n goes to the buffer.
void Loop::collect_rewards() {
    for (ScoredSample& r : rewards_.poll()) {
        const auto tagged = scoring_.find(r.tag);
        const Scoring at = tagged->second;
        scoring_.erase(tagged);
        metrics_.reward_scored(r.result.status, r.seconds);
        const auto it = pending_.find(at.request_id);
        if (it == pending_.end()) continue;  // given up (too stale) while it was being scored
        PendingGroup& g = it->second;
        const auto s = std::find_if(g.scoring.begin(), g.scoring.end(), [&](const v1::Sample& x) {
            return x.index_in_group() == at.index_in_group;
        });
        v1::Sample smp = std::move(*s);
        g.scoring.erase(s);
        set_reward(smp, r.result);
        log_reward_failure(r.result, smp);
        smp.mutable_timing()->set_reward_ms(r.seconds * 1000.0);
        ++stats_.samples;
        metrics_.sample_finished(smp.timing().generate_ms() / 1000.0, smp.response_token_ids_size(),
                                 static_cast<int>(smp.segment_count()));
        g.done.push_back(std::move(smp));
        changed_ = true;
        if (static_cast<int>(g.done.size()) == n_) deliver(at.request_id);
    }
    stats_.rewards_pending = static_cast<int64_t>(rewards_.depth());
    stats_.reward_queue_max_depth = static_cast<int64_t>(rewards_.max_depth());
    stats_.reward_full_waits = rewards_.full_waits();
    metrics_.reward_queue(rewards_.depth(), rewards_.max_depth(), rewards_.full_waits(),
                          rewards_.full_wait_seconds());
}

// The first few distinct texts of a reward that raised or ran out of time, with the prompt that caused
// them: metrics.jsonl counts them (reward/errors, reward/timeouts), this says why.
void Loop::log_reward_failure(const RewardResult& r, const v1::Sample& smp) {
    if (r.status != RewardStatus::error && r.status != RewardStatus::timeout) return;
    if (reward_texts_logged_.size() >= kRewardTextsLogged) return;
    const std::string key = std::string(reward_status_name(r.status)) + ": " + r.detail;
    if (!reward_texts_logged_.insert(key).second) return;
    spdlog::warn("{}: reward {} on prompt {}: {}{}", id_, reward_status_name(r.status), smp.prompt_id(),
                 r.detail.empty() ? "(no detail)" : r.detail,
                 reward_texts_logged_.size() == kRewardTextsLogged
                     ? " (the last distinct reward error text this worker logs)"
                     : "");
}

// Nothing to decode: wait a little, then ask again. Short, because what we wait for (the gate opening
// on a new version, the last reward of a group) is what every synchronous step waits on.
void Loop::idle() {
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    collect_rewards();
    add_seconds(stats_.idle_s, seconds_since(t0));
    metrics_.idle(seconds_since(t0));
}

void Loop::run() {
    load_weights(0);
    gen_ = std::make_unique<Generator>(model_, gen_opt_);
    gen_->set_policy_version(version_);
    resume_partials();

    while (!stop_) {
        if (segmented_) {
            if (gen_->round_done()) {
                round_boundary();
            } else if (async_ && round_steps_ < cfg_.rollout.segment_tokens) {
                // Seats that answers finished early in this round freed are filled now, not at the
                // round's end (they would stay empty until then): the new groups' first segment is
                // what is left of the round, so they park with the rest and the round ends on time.
                // Their tokens are sampled by this round's weights, like every token of the round.
                if (request_prompts() > 0) save_partials();
            }
        } else {
            // Async: pick up a new version between steps, without draining (interruptible generation).
            if (async_ && Clock::now() - last_poll_ > std::chrono::milliseconds(20)) poll_weights();
            if (request_prompts() > 0) save_partials();
        }
        stats_.groups_in_flight = static_cast<int64_t>(pending_.size());
        metrics_.groups_in_flight(static_cast<int>(pending_.size()));
        if (gen_->round_done()) {
            // pending_ holds the groups still being scored too: done only when every reward is back.
            if (finished_ && pending_.empty()) break;
            idle();
            continue;
        }
        step();
    }
    // Stopped (or done): the rewards out are awaited, a reward hung past its own limit is cancelled
    // (its samples score as errors), so that every finished sample is scored before the save.
    rewards_.close(cfg_.reward.timeout_s + 1.0);
    collect_rewards();
    stats_.groups_in_flight = static_cast<int64_t>(pending_.size());
    metrics_.groups_in_flight(static_cast<int>(pending_.size()));
    // Save what is in flight, as it stands, for the next run. The buffer may be going down too; the
    // last successful save is then what the next run finds.
    save_partials();
    report_holdings();
}

}  // namespace

RolloutWorker::RolloutWorker(const JobContext& ctx, std::string worker_id, RolloutEndpoints endpoints)
    : ctx_(ctx), id_(std::move(worker_id)), ep_(std::move(endpoints)) {}

void RolloutWorker::run(const std::atomic<bool>& stop) {
    Loop(ctx_, id_, ep_, stats_, stop, round_hook_, slot_, group_opt_, group_channels_).run();
}

}  // namespace stride
