// rollout/rollout_metrics.cpp: see rollout_metrics.h.
#include "rollout/rollout_metrics.h"

#include "model/generator.h"

namespace stride {

namespace {

std::string worker_label(const std::string& id) {
    const std::string prefix = "rollout-";
    return id.rfind(prefix, 0) == 0 ? id.substr(prefix.size()) : id;
}

// Latencies from a millisecond (a short sample on a small model) to ~10 minutes (long reasoning).
const std::vector<double>& latency_buckets() {
    static const std::vector<double> b = exponential_buckets(0.001, 2.5, 16);
    return b;
}

}  // namespace

RolloutMetrics::RolloutMetrics(const std::string& job, const std::string& worker_id, MetricsRegistry& r)
    : tokens_(r.counter("stride_rollout_tokens_generated", "Tokens sampled by the engine", kRoleLabels)
                  .with({job, "rollout", worker_label(worker_id)})),
      prefill_tokens_(r.counter("stride_rollout_prefill_tokens",
                                "Prompt and recomputed tokens fed to the engine", kRoleLabels)
                          .with({job, "rollout", worker_label(worker_id)})),
      requests_(r.counter("stride_rollout_requests", "Prompt requests answered by the scheduler", kRoleLabels)
                    .with({job, "rollout", worker_label(worker_id)})),
      prompts_(r.counter("stride_rollout_prompts", "Prompts received (generation requests of n samples)",
                         kRoleLabels)
                   .with({job, "rollout", worker_label(worker_id)})),
      samples_(r.counter("stride_rollout_samples", "Samples finished and scored", kRoleLabels)
                   .with({job, "rollout", worker_label(worker_id)})),
      groups_(r.counter("stride_rollout_groups", "Groups put into the buffer (durable)", kRoleLabels)
                  .with({job, "rollout", worker_label(worker_id)})),
      response_tokens_(
          r.counter("stride_rollout_response_tokens", "Tokens of finished responses", kRoleLabels)
              .with({job, "rollout", worker_label(worker_id)})),
      weight_updates_(r.counter("stride_rollout_weight_updates", "Weight versions loaded", kRoleLabels)
                          .with({job, "rollout", worker_label(worker_id)})),
      weight_bytes_(r.counter("stride_weight_sync_bytes",
                              "Weight bytes published (trainer) or fetched (rollout)", kRoleLabels)
                        .with({job, "rollout", worker_label(worker_id)})),
      weight_seconds_(r.counter("stride_weight_sync_seconds",
                                "Seconds spent publishing (trainer) or fetching (rollout)", kRoleLabels)
                          .with({job, "rollout", worker_label(worker_id)})),
      busy_seconds_(r.counter("stride_rollout_busy_seconds", "Seconds the worker spent stepping the engine",
                              kRoleLabels)
                        .with({job, "rollout", worker_label(worker_id)})),
      preemptions_(r.counter("stride_rollout_preemptions", "Sequences preempted for KV blocks", kRoleLabels)
                       .with({job, "rollout", worker_label(worker_id)})),
      idle_seconds_(
          r.counter("stride_rollout_idle_seconds", "Seconds the worker had nothing to decode", kRoleLabels)
              .with({job, "rollout", worker_label(worker_id)})),
      evictions_(r.counter("stride_rollout_kv_evictions",
                           "Parked (carried-over) sequences whose KV was freed for others; they re-prefill",
                           kRoleLabels)
                     .with({job, "rollout", worker_label(worker_id)})),
      steps_(r.counter("stride_rollout_engine_steps", "Engine steps (one batched forward each)", kRoleLabels)
                 .with({job, "rollout", worker_label(worker_id)})),
      batch_sequences_(
          r.counter("stride_rollout_batch_sequences",
                    "Sequences in the engine's batches summed over steps (/ steps = mean occupancy)",
                    kRoleLabels)
              .with({job, "rollout", worker_label(worker_id)})),
      rounds_(r.counter("stride_rollout_rounds", "Segment rollout rounds begun", kRoleLabels)
                  .with({job, "rollout", worker_label(worker_id)})),
      carried_sequences_(r.counter("stride_rollout_carried_sequences",
                                   "Unfinished responses carried over into a next round", kRoleLabels)
                             .with({job, "rollout", worker_label(worker_id)})),
      carried_tokens_(r.counter("stride_rollout_carried_tokens",
                                "Tokens the carried-over responses held when their next round began",
                                kRoleLabels)
                          .with({job, "rollout", worker_label(worker_id)})),
      groups_aborted_(
          r.counter("stride_rollout_groups_aborted",
                    "Groups given up in flight: a token is older than buffer.max_staleness allows",
                    kRoleLabels)
              .with({job, "rollout", worker_label(worker_id)})),
      groups_resumed_(r.counter("stride_rollout_groups_resumed",
                                "In-flight groups taken over from a previous run of this worker", kRoleLabels)
                          .with({job, "rollout", worker_label(worker_id)})),
      kv_limited_(r.counter("stride_rollout_admission_kv_limited",
                            "Prompt requests capped by the KV budget rather than by max_batch_seqs",
                            kRoleLabels)
                      .with({job, "rollout", worker_label(worker_id)})),
      reward_full_waits_(r.counter("stride_reward_queue_full_waits",
                                   "Finished samples the decode loop could not hand to the reward queue "
                                   "at once: it was full, so rollout waited on rewards",
                                   kRoleLabels)
                             .with({job, "rollout", worker_label(worker_id)})),
      reward_full_wait_seconds_(r.counter("stride_reward_queue_full_wait_seconds",
                                          "Seconds the decode loop waited for room in the reward queue",
                                          kRoleLabels)
                                    .with({job, "rollout", worker_label(worker_id)})),
      active_(r.gauge("stride_rollout_sequences_active", "Sequences the engine is decoding", kRoleLabels)
                  .with({job, "rollout", worker_label(worker_id)})),
      waiting_(r.gauge("stride_rollout_sequences_waiting", "Sequences queued for admission", kRoleLabels)
                   .with({job, "rollout", worker_label(worker_id)})),
      parked_(r.gauge("stride_rollout_sequences_parked",
                      "Unfinished responses waiting for the next round (segment rollout)", kRoleLabels)
                  .with({job, "rollout", worker_label(worker_id)})),
      kv_used_(r.gauge("stride_rollout_kv_blocks_used", "Paged KV cache blocks in use", kRoleLabels)
                   .with({job, "rollout", worker_label(worker_id)})),
      kv_total_(r.gauge("stride_rollout_kv_blocks_capacity", "Paged KV cache blocks in the pool", kRoleLabels)
                    .with({job, "rollout", worker_label(worker_id)})),
      version_(r.gauge("stride_rollout_policy_version", "Policy version the worker samples with", kRoleLabels)
                   .with({job, "rollout", worker_label(worker_id)})),
      in_flight_(r.gauge("stride_rollout_groups_in_flight",
                         "Prompts taken whose group is not in the buffer yet", kRoleLabels)
                     .with({job, "rollout", worker_label(worker_id)})),
      reward_depth_(r.gauge("stride_reward_queue_depth",
                            "Finished samples waiting for or being scored by the reward", kRoleLabels)
                        .with({job, "rollout", worker_label(worker_id)})),
      reward_max_depth_(r.gauge("stride_reward_queue_max_depth",
                                "The most samples the reward queue held at once (its bound: "
                                "4 x rollout.max_batch_seqs)",
                                kRoleLabels)
                            .with({job, "rollout", worker_label(worker_id)})),
      generation_seconds_(r.histogram("stride_rollout_generation_seconds",
                                      "Time from a prompt's admission to one of its samples finishing",
                                      kRoleLabels, latency_buckets())
                              .with({job, "rollout", worker_label(worker_id)})),
      reward_seconds_(
          r.histogram("stride_reward_seconds",
                      "Time from a sample finishing to its reward (waiting in the reward queue included)",
                      kRoleLabels, latency_buckets())
              .with({job, "rollout", worker_label(worker_id)})),
      segments_(r.histogram("stride_rollout_segments", "Segments (rounds) per finished response", kRoleLabels,
                            exponential_buckets(1, 2, 12))
                    .with({job, "rollout", worker_label(worker_id)})) {
    const std::string w = worker_label(worker_id);
    std::vector<std::string> labels = kRoleLabels;
    labels.push_back("status");
    CounterFamily& calls = r.counter("stride_reward_calls", "Reward calls by result status", labels);
    CounterFamily& errors =
        r.counter("stride_reward_errors", "Reward calls that failed (status error or timeout)", labels);
    for (RewardStatus s :
         {RewardStatus::ok, RewardStatus::error, RewardStatus::timeout, RewardStatus::unparseable}) {
        const int i = static_cast<int>(s);
        reward_calls_[i] = &calls.with({job, "rollout", w, reward_status_name(s)});
        const bool failure = s == RewardStatus::error || s == RewardStatus::timeout;
        reward_errors_[i] = failure ? &errors.with({job, "rollout", w, reward_status_name(s)}) : nullptr;
    }
}

void RolloutMetrics::prompts_received(int prompts) {
    requests_.inc();
    prompts_.inc(static_cast<uint64_t>(prompts));
}

void RolloutMetrics::engine_stepped(const Generator& gen) {
    // The generator counts since its creation; export the growth since the last call.
    const GeneratorStats& s = gen.stats();
    tokens_.inc(static_cast<uint64_t>(s.decode_tokens - seen_decode_));
    prefill_tokens_.inc(static_cast<uint64_t>(s.prefill_tokens - seen_prefill_));
    preemptions_.inc(static_cast<uint64_t>(s.preemptions - seen_preemptions_));
    evictions_.inc(static_cast<uint64_t>(s.evictions - seen_evictions_));
    steps_.inc(static_cast<uint64_t>(s.steps - seen_steps_));
    batch_sequences_.inc(static_cast<uint64_t>(s.batch_seqs - seen_batch_seqs_));
    seen_decode_ = s.decode_tokens;
    seen_prefill_ = s.prefill_tokens;
    seen_preemptions_ = s.preemptions;
    seen_evictions_ = s.evictions;
    seen_steps_ = s.steps;
    seen_batch_seqs_ = s.batch_seqs;
    active_.set(gen.num_running());
    waiting_.set(gen.num_waiting());
    parked_.set(gen.num_parked());
    kv_used_.set(gen.cache().blocks_used());
    kv_total_.set(gen.cache().blocks_total());
}

void RolloutMetrics::reward_scored(RewardStatus status, double seconds) {
    const int i = static_cast<int>(status);
    if (i < 0 || i >= 4) return;
    reward_calls_[i]->inc();
    if (reward_errors_[i]) reward_errors_[i]->inc();
    reward_seconds_.observe(seconds);
}

void RolloutMetrics::reward_queue(size_t depth, size_t max_depth, int64_t full_waits,
                                  double full_wait_seconds) {
    reward_depth_.set(static_cast<double>(depth));
    reward_max_depth_.set(static_cast<double>(max_depth));
    // The queue counts since its creation; export the growth since the last call.
    reward_full_waits_.inc(static_cast<uint64_t>(full_waits - seen_full_waits_));
    reward_full_wait_seconds_.add(full_wait_seconds - seen_full_wait_seconds_);
    seen_full_waits_ = full_waits;
    seen_full_wait_seconds_ = full_wait_seconds;
}

void RolloutMetrics::sample_finished(double generate_seconds, int response_tokens, int segments) {
    samples_.inc();
    response_tokens_.inc(static_cast<uint64_t>(response_tokens));
    generation_seconds_.observe(generate_seconds);
    segments_.observe(segments);
}

void RolloutMetrics::group_put() {
    groups_.inc();
}

void RolloutMetrics::weights_loaded(int64_t version) {
    weight_updates_.inc();
    weight_bytes_.inc(fetch.bytes);
    weight_seconds_.add(fetch.seconds);
    version_.set(static_cast<double>(version));
}

void RolloutMetrics::busy(double seconds) {
    busy_seconds_.add(seconds);
}

void RolloutMetrics::idle(double seconds) {
    idle_seconds_.add(seconds);
}

void RolloutMetrics::round_begun(int sequences, int64_t tokens) {
    rounds_.inc();
    carried_sequences_.inc(static_cast<uint64_t>(sequences));
    carried_tokens_.inc(static_cast<uint64_t>(tokens));
}

void RolloutMetrics::groups_aborted(int groups) {
    groups_aborted_.inc(static_cast<uint64_t>(groups));
}

void RolloutMetrics::groups_resumed(int groups) {
    groups_resumed_.inc(static_cast<uint64_t>(groups));
}

void RolloutMetrics::groups_in_flight(int groups) {
    in_flight_.set(groups);
}

void RolloutMetrics::admission_kv_limited() {
    kv_limited_.inc();
}

}  // namespace stride
