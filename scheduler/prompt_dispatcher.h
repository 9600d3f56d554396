// The scheduler's prompt service: hands training prompts to rollout workers in a fixed, seeded order
// (a new shuffle each epoch), step by step, behind the staleness gate.
//
// Gate: prompts are numbered p = 0, 1, ...; prompt p belongs to trainer step s = p / prompts_per_step.
// With the trainer at version v (v optimiser steps done), prompts of step s may be handed out only
// when s <= v + max_lag, and the worker must generate them with weights of version >= s - max_lag.
// max_lag = 0 is synchronous on-policy RL: step s is generated entirely by version s.
// The trainer's version is read from the weight publisher (the source of truth for rollout too).
//
// DAPO dynamic sampling: the trainer drops groups whose samples are all equally right or wrong and
// pulls replacements, announcing the running count E of prompts it asked for beyond prompts_per_step
// per step (an ExtraPrompts request on this socket). Rollout workers report the flat groups they put
// (PromptRequest.flat_groups, F in all): each is a group the trainer will drop, so in async mode it
// frees its place at once, before the trainer pulls it (AReaL frees a rejected rollout's slot the
// same way). Every limit above moves by X = max(E, F): step s's prompts are those numbered up to
// (s + 1) * prompts_per_step + X, and the job's total is steps * prompts_per_step + X. Since E can
// still grow until the last step is trained, the dispatcher then answers `finished` only once the
// trainer has published its final version.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "common/messaging.h"
#include "common/weight_sync.h"
#include "job/job_context.h"

namespace stride {

struct DispatcherOptions {
    int prompts_per_step = 32;
    int total_steps = 100;
    int max_lag = 0;
    uint64_t seed = 1;
    int64_t start_prompt = 0;         // resume: the first prompt not yet dispatched
    bool dynamic_sampling = false;    // the trainer may ask for extra prompts (see above)
    int64_t start_extra_prompts = 0;  // resume: the extra prompts the trainer had asked for
};

class PromptDispatcher {
   public:
    PromptDispatcher(const JobContext& ctx, const std::string& bind_endpoint,
                     const std::string& weights_endpoint, const DispatcherOptions& opt);
    ~PromptDispatcher();
    std::string endpoint() const { return endpoint_; }
    int64_t dispatched() const { return cursor_; }
    int64_t extra_prompts() const { return extra_; }
    uint64_t rejected() const { return rejected_; }
    // The latest epoch (pass over data.train, from 0) a prompt was handed out from; a new one is logged.
    int64_t epoch() const { return epoch_; }

    // The prompt numbered p (pure function of the dataset, seed and p): which example, which group.
    // Not thread-safe (it caches the current epoch's order); the serving thread is its only caller.
    v1::Prompt prompt_at(int64_t p);

   private:
    void serve();
    v1::Envelope answer_prompt_request(const v1::PromptRequest& pr);
    v1::Envelope answer_extra_prompts(const v1::ExtraPrompts& ep);
    void refresh_version();  // the trainer's version, from the weight publisher
    void note_worker_report(const v1::PromptRequest& pr);
    const JobContext& ctx_;
    DispatcherOptions opt_;
    ZmqContext zctx_;
    ReplySocket sock_;
    std::string endpoint_;
    WeightSubscriber versions_;
    std::atomic<int64_t> cursor_;
    std::map<std::string, int64_t> inflight_oldest_;  // worker id -> oldest version it has in flight
    // Dynamic sampling: flat groups the workers reported (PromptRequest.flat_groups), summed over
    // worker runs; each frees a place under the gate before the trainer pulls it (see serve()).
    std::map<std::string, uint64_t> flat_reported_;  // worker id -> its latest cumulative report
    int64_t flat_groups_ = 0;
    std::atomic<int64_t> extra_{0};  // the largest ExtraPrompts.total the trainer sent
    int64_t version_ = -1;           // the trainer's version, as last read (serving thread only)
    std::chrono::steady_clock::time_point version_checked_{};
    int64_t order_epoch_ = -1;
    std::vector<int64_t> order_;  // the dataset order of epoch order_epoch_
    std::atomic<uint64_t> rejected_{0};
    std::atomic<int64_t> epoch_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace stride
