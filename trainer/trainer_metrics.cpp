// trainer/trainer_metrics.cpp: see trainer_metrics.h.
#include "trainer/trainer_metrics.h"

namespace stride {

namespace {

GaugeFamily& jsonl_gauge(MetricsRegistry& r, const std::string& key) {
    return r.gauge(trainer_gauge_name(key), "metrics.jsonl key '" + key + "' of the last step", kRoleLabels);
}

}  // namespace

const std::vector<std::string>& trainer_jsonl_keys() {
    static const std::vector<std::string> keys = {"step",
                                                  "policy_version",
                                                  "reward/mean",
                                                  "reward/std",
                                                  "reward/ok",
                                                  "reward/errors",
                                                  "reward/timeouts",
                                                  "reward/unparseable",
                                                  "reward/error_frac",
                                                  "accuracy",
                                                  "response_length/mean",
                                                  "response_length/max",
                                                  "tokens_per_s",
                                                  "staleness/mean",
                                                  "staleness/max",
                                                  "loss",
                                                  "pg_loss",
                                                  "entropy",
                                                  "grad_norm",
                                                  "lr",
                                                  "clip_frac/low",
                                                  "clip_frac/high",
                                                  "approx_kl",
                                                  "adv/mean",
                                                  "adv/std",
                                                  "logprob_mismatch/mean",
                                                  "logprob_mismatch/max",
                                                  "response_tokens",
                                                  "skipped_step",
                                                  "time/step_s",
                                                  "time/wait_s",
                                                  "eval/accuracy",
                                                  "eval/policy_version"};
    return keys;
}

std::string trainer_gauge_name(const std::string& jsonl_key) {
    std::string name = "stride_trainer_" + sanitize_metric_name(jsonl_key);
    // Prometheus names spell units out (promtool rejects abbreviations): *_per_s -> *_per_second,
    // *_s -> *_seconds.
    auto ends_with = [&](const std::string& suffix) {
        return name.size() >= suffix.size() &&
               name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with("_per_s"))
        name += "econd";
    else if (ends_with("_s"))
        name += "econds";
    return name;
}

TrainerMetrics::TrainerMetrics(const std::string& job, MetricsRegistry& r)
    : registry_(r),
      job_(job),
      steps_(r.counter("stride_trainer_steps", "RL steps done by this trainer process", kRoleLabels)
                 .with({job, "trainer", "0"})),
      samples_(r.counter("stride_trainer_samples", "Samples pulled from the buffer", kRoleLabels)
                   .with({job, "trainer", "0"})),
      response_tokens_(r.counter("stride_trainer_tokens_trained", "Response tokens trained on", kRoleLabels)
                           .with({job, "trainer", "0"})),
      wait_seconds_(
          r.counter("stride_trainer_wait_seconds", "Seconds waiting for a batch from the buffer", kRoleLabels)
              .with({job, "trainer", "0"})),
      step_seconds_(r.histogram("stride_trainer_step_seconds",
                                "Time of one RL step (update, publish, not eval)", kRoleLabels,
                                exponential_buckets(0.01, 2, 16))
                        .with({job, "trainer", "0"})),
      staleness_(r.histogram("stride_trainer_staleness",
                             "Policy versions a trained sample lags behind the trainer", kRoleLabels,
                             {0, 1, 2, 3, 4, 6, 8, 12, 16, 32})
                     .with({job, "trainer", "0"})) {
    for (const std::string& k : trainer_jsonl_keys()) jsonl_gauge(r, k);
}

void TrainerMetrics::batch_pulled(const v1::Batch& batch, int64_t trainer_version, double wait_s) {
    wait_seconds_.add(wait_s);
    for (const v1::Group& g : batch.groups())
        for (const v1::Sample& s : g.samples()) {
            samples_.inc();
            staleness_.observe(static_cast<double>(trainer_version - s.policy_version()));
        }
}

void TrainerMetrics::step_logged(const nlohmann::json& line) {
    steps_.inc();
    for (const auto& [key, value] : line.items()) {
        if (!value.is_number() && !value.is_boolean()) continue;
        // One lookup per key per step (a map under a mutex): microseconds against a step of seconds.
        jsonl_gauge(registry_, key).with({job_, "trainer", "0"}).set(value.get<double>());
    }
    if (line.contains("time/step_s")) step_seconds_.observe(line["time/step_s"].get<double>());
    if (line.contains("response_tokens")) response_tokens_.inc(line["response_tokens"].get<uint64_t>());
}

void record_weights_published(const std::string& job, uint64_t bytes, double seconds, int64_t version,
                              MetricsRegistry& r) {
    const std::vector<std::string> lv = {job, "trainer", "0"};
    r.counter("stride_weight_sync_bytes", "Weight bytes published (trainer) or fetched (rollout)",
              kRoleLabels)
        .with(lv)
        .inc(bytes);
    r.counter("stride_weight_sync_seconds", "Seconds spent publishing (trainer) or fetching (rollout)",
              kRoleLabels)
        .with(lv)
        .add(seconds);
    r.counter("stride_weight_sync_versions", "Weight versions published (trainer)", kRoleLabels)
        .with(lv)
        .inc();
    r.gauge("stride_weight_sync_published_version", "Latest weight version published", kRoleLabels)
        .with(lv)
        .set(static_cast<double>(version));
}

}  // namespace stride
