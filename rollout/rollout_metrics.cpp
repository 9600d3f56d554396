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
      active_(r.gauge("stride_rollout_sequences_active", "Sequences the engine is decoding", kRoleLabels)
                  .with({job, "rollout", worker_label(worker_id)})),
      waiting_(r.gauge("stride_rollout_sequences_waiting", "Sequences queued for admission", kRoleLabels)
                   .with({job, "rollout", worker_label(worker_id)})),
      kv_used_(r.gauge("stride_rollout_kv_blocks_used", "Paged KV cache blocks in use", kRoleLabels)
                   .with({job, "rollout", worker_label(worker_id)})),
      kv_total_(r.gauge("stride_rollout_kv_blocks_capacity", "Paged KV cache blocks in the pool", kRoleLabels)
                    .with({job, "rollout", worker_label(worker_id)})),
      version_(r.gauge("stride_rollout_policy_version", "Policy version the worker samples with", kRoleLabels)
                   .with({job, "rollout", worker_label(worker_id)})),
      generation_seconds_(r.histogram("stride_rollout_generation_seconds",
                                      "Time from a prompt's admission to one of its samples finishing",
                                      kRoleLabels, latency_buckets())
                              .with({job, "rollout", worker_label(worker_id)})),
      reward_seconds_(
          r.histogram("stride_reward_seconds", "Time to score one sample", kRoleLabels, latency_buckets())
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
    seen_decode_ = s.decode_tokens;
    seen_prefill_ = s.prefill_tokens;
    seen_preemptions_ = s.preemptions;
    active_.set(gen.num_running());
    waiting_.set(gen.num_waiting());
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

void RolloutMetrics::sample_finished(double generate_seconds, int response_tokens) {
    samples_.inc();
    response_tokens_.inc(static_cast<uint64_t>(response_tokens));
    generation_seconds_.observe(generate_seconds);
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

}  // namespace stride
