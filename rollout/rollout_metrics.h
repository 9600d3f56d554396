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
    void sample_finished(double generate_seconds, int response_tokens);
    void group_put();
    void weights_loaded(int64_t version);  // after a successful fetch into `fetch`
    void busy(double seconds);

    WeightFetchStats fetch;  // filled by WeightSubscriber::fetch_if_newer

   private:
    Counter &tokens_, &prefill_tokens_, &requests_, &prompts_, &samples_, &groups_, &response_tokens_;
    Counter &weight_updates_, &weight_bytes_, &weight_seconds_, &busy_seconds_, &preemptions_;
    Gauge &active_, &waiting_, &kv_used_, &kv_total_, &version_;
    Histogram &generation_seconds_, &reward_seconds_;
    Counter* reward_calls_[4];
    Counter* reward_errors_[4];  // only error and timeout are set
    int64_t seen_decode_ = 0, seen_prefill_ = 0, seen_preemptions_ = 0;
};

}  // namespace stride
