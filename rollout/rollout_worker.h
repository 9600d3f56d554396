// A rollout worker: owns an inference engine (continuous-batching Generator over its own copy of the
// weights), asks the scheduler for prompts, samples n responses per prompt, scores them with the
// job's reward and puts every finished group into the experience buffer. New weights are fetched
// from the trainer's publisher; the worker switches to them between generator steps, atomically.
//
// rollout.mode sync: the worker switches weights only when it has nothing in flight (the gate
// admits step s only at version s anyway). async: it polls for new versions between generator steps
// and switches mid-generation (rollout.kv_on_update: recompute drops the KV of in-flight sequences,
// keep keeps it); every token records the version that sampled it.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include "scheduler/job_context.h"

namespace stride {

struct RolloutEndpoints {
    std::string scheduler;  // PromptDispatcher
    std::string buffer;     // BufferServer
    std::string weights;    // WeightPublisher
};

struct RolloutStats {
    std::atomic<int64_t> samples{0}, groups{0}, tokens{0}, weight_updates{0};
    std::atomic<double> busy_s{0}, idle_s{0};
};

class RolloutWorker {
public:
    RolloutWorker(const JobContext& ctx, std::string worker_id, RolloutEndpoints endpoints);
    // Runs until the scheduler says the job needs no more prompts and everything in flight is
    // delivered, or until `stop` becomes true.
    void run(const std::atomic<bool>& stop);
    const RolloutStats& stats() const { return stats_; }

private:
    const JobContext& ctx_;
    std::string id_;
    RolloutEndpoints ep_;
    RolloutStats stats_;
};

}  // namespace stride
