// rollout/rollout_metrics.h: the Prometheus series of one rollout worker (engine, reward, weight
// sync), resolved once per worker so that rollout_worker.cpp only calls cheap update functions.
#pragma once
#include <string>

#include "common/metrics.h"
#include "common/weight_sync.h"
#include "reward/reward.h"

namespace stride {

class Generator;

class RolloutMetrics {
   public:
    // worker_id "rollout-3" is labelled worker="3"; job is the job's name.
    RolloutMetrics(const std::string& job, const std::string& worker_id,
                   MetricsRegistry& registry = MetricsRegistry::global());

    void prompts_received(int prompts);         // one answered prompt request
    void engine_stepped(const Generator& gen);  // after Generator::step: tokens, sequences, KV
    void reward_scored(RewardStatus status, double seconds);
    // The reward queue (reward/reward_queue.h) now: pending samples, the most at once so far, and
    // the totals of submits that found it full and of the seconds they waited.
    void reward_queue(size_t depth, size_t max_depth, int64_t full_waits, double full_wait_seconds);
    void sample_finished(double generate_seconds, int response_tokens, int segments);
    void group_put();
    void weights_loaded(int64_t version);  // after a successful fetch into `fetch`
    void busy(double seconds);
    void idle(double seconds);
    // Segment rollout: a round begins, carrying over `sequences` unfinished responses of `tokens`.
    void round_begun(int sequences, int64_t tokens);
    void groups_aborted(int groups);  // given up: already too stale for the buffer
    void groups_resumed(int groups);  // taken over from a previous run of this worker
    void groups_in_flight(int groups);
    void admission_kv_limited();  // the KV budget, not max_batch_seqs, capped a prompt request

    WeightFetchStats fetch;  // filled by WeightSubscriber::fetch_if_newer

   private:
    Counter &tokens_, &prefill_tokens_, &requests_, &prompts_, &samples_, &groups_, &response_tokens_;
    Counter &weight_updates_, &weight_bytes_, &weight_seconds_, &busy_seconds_, &preemptions_;
    Counter &idle_seconds_, &evictions_, &steps_, &batch_sequences_, &rounds_, &carried_sequences_,
        &carried_tokens_, &groups_aborted_, &groups_resumed_, &kv_limited_, &reward_full_waits_,
        &reward_full_wait_seconds_;
    Gauge &active_, &waiting_, &parked_, &kv_used_, &kv_total_, &version_, &in_flight_, &reward_depth_,
        &reward_max_depth_;
    Histogram &generation_seconds_, &reward_seconds_, &segments_;
    Counter* reward_calls_[4];
    Counter* reward_errors_[4];  // only error and timeout are set
    int64_t seen_decode_ = 0, seen_prefill_ = 0, seen_preemptions_ = 0, seen_evictions_ = 0, seen_steps_ = 0,
            seen_batch_seqs_ = 0, seen_full_waits_ = 0;
    double seen_full_wait_seconds_ = 0;
};

}  // namespace stride
