// trainer/trainer_metrics.h: the trainer's Prometheus series.
//
// Every numeric key of a metrics.jsonl line has a gauge twin holding the value of the last step:
// stride_trainer_ + the key with every character outside [a-zA-Z0-9_] replaced by '_', and the
// abbreviated unit suffixes spelled out (_per_s -> _per_second, _s -> _seconds):
// "reward/mean" -> stride_trainer_reward_mean, "time/step_s" -> stride_trainer_time_step_seconds,
// "tokens_per_s" -> stride_trainer_tokens_per_second, "eval/accuracy" -> stride_trainer_eval_accuracy.
// Besides: a step time histogram, a staleness histogram (trainer version - sample version, per sample
// pulled), counters of steps, samples, response tokens and wait seconds, and the weight publisher's bytes and
// seconds.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "proto/stride.pb.h"

namespace stride {

// The metrics.jsonl keys (README "metrics.jsonl"); their gauges are registered up front so that
// dashboards and tests can see every name before the first step.
const std::vector<std::string>& trainer_jsonl_keys();
std::string trainer_gauge_name(const std::string& jsonl_key);

class TrainerMetrics {
   public:
    explicit TrainerMetrics(const std::string& job, MetricsRegistry& registry = MetricsRegistry::global());
    // A batch arrived: its samples' staleness against the trainer's current version, and the wait.
    void batch_pulled(const v1::Batch& batch, int64_t trainer_version, double wait_s);
    // The line just appended to metrics.jsonl.
    void step_logged(const nlohmann::json& line);

   private:
    MetricsRegistry& registry_;
    std::string job_;
    Counter &steps_, &samples_, &response_tokens_, &wait_seconds_;
    Histogram &step_seconds_, &staleness_;
};

// The trainer published a weight version (called by TrainerRole::publish).
void record_weights_published(const std::string& job, uint64_t bytes, double seconds, int64_t version,
                              MetricsRegistry& registry = MetricsRegistry::global());

}  // namespace stride
