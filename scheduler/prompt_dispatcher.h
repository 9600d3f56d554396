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
//
// Re-dispatch (issue #18): the dispatcher records which worker holds which prompt (prompt_holders.h).
// The prompts of a worker that is lost (release_worker: the registry heard nothing for
// network.lost_after_s) or that a restarted worker no longer holds, and those a resume deleted
// (RedispatchPrompts from the trainer), are handed out again before any new prompt, marked
// Prompt.redispatched. While any other worker still holds prompts, a worker that asks is told to ask
// again rather than `finished`, so that someone is still there to take a lost worker's prompts.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/messaging.h"
#include "common/weight_sync.h"
#include "job/job_context.h"
#include "scheduler/prompt_holders.h"

namespace stride {

struct DispatcherOptions {
    int prompts_per_step = 32;
    int total_steps = 100;
    int max_lag = 0;
    uint64_t seed = 1;
    int64_t start_prompt = 0;         // resume: the first prompt not yet dispatched
    bool dynamic_sampling = false;    // the trainer may ask for extra prompts (see above)
    int64_t start_extra_prompts = 0;  // resume: the extra prompts the trainer had asked for
    // deadlines.weights_s: the trainer's weight publisher (the gate's version) silent this long while
    // workers ask for prompts: the dispatcher gives up (failure(), every prompt request refused).
    double weights_deadline_s = 60;
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
    // Prompts handed out a second time (or more) so far.
    int64_t redispatched() const { return redispatched_; }
    // RedispatchPrompts messages received: one per trainer resume (a restarted trainer is ready).
    int64_t trainer_resumes() const { return trainer_resumes_; }
    // The worker is gone (thread-safe; applied by the serving thread before its next answer): what it
    // held is handed out again.
    void release_worker(const std::string& worker_id);

    // Why the dispatcher gave up ("" while it serves): the weight publisher it reads the trainer's
    // version from stayed silent for weights_deadline_s. The launcher stops the job. Thread-safe.
    std::string failure() const;

    // The prompt numbered p (pure function of the dataset, seed and p): which example, which group.
    // Not thread-safe (it caches the current epoch's order); the serving thread is its only caller.
    v1::Prompt prompt_at(int64_t p);

   private:
    void serve();
    v1::Envelope answer_prompt_request(const v1::PromptRequest& pr);
    void fill_batch(const v1::PromptRequest& pr, v1::PromptBatch* batch);
    v1::Envelope answer_extra_prompts(const v1::ExtraPrompts& ep);
    // The trainer's version, from the weight publisher; false once it gave up (failure()).
    bool refresh_version();
    void note_worker_report(const v1::PromptRequest& pr);
    v1::Envelope answer_redispatch(const v1::RedispatchPrompts& rp);
    void apply_releases();
    void queue_again(const std::vector<int64_t>& prompts, const std::string& why);
    // The step prompt p belongs to (extra prompts shift the numbering).
    int64_t step_of(int64_t p, int64_t extra) const;
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
    // Since when the publisher has not answered a version read (none: it answered the last one).
    std::optional<std::chrono::steady_clock::time_point> publisher_silent_since_;
    mutable std::mutex failure_mu_;
    std::string failure_;  // set once, by the serving thread
    int64_t order_epoch_ = -1;
    std::vector<int64_t> order_;  // the dataset order of epoch order_epoch_
    std::atomic<uint64_t> rejected_{0};
    std::atomic<int64_t> epoch_{0};
    // Re-dispatch (serving thread only, but for releases_).
    PromptHolders holders_;
    RedispatchQueue again_;
    std::atomic<int64_t> redispatched_{0};
    std::atomic<int64_t> trainer_resumes_{0};
    struct LastAnswer {
        std::string run;
        uint64_t seq = 0;
        v1::Envelope reply;
    };
    std::map<std::string, LastAnswer> last_answer_;  // worker id -> its last numbered request's reply
    std::mutex releases_mu_;
    std::vector<std::string> releases_;  // workers declared lost, not yet applied
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace stride
