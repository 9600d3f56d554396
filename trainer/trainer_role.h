// The trainer role: pulls complete groups from the experience buffer, runs one RL step per batch,
// commits the batch tagged with its step (the buffer keeps it until the checkpoint that covers the
// step is durable: then it deletes it), publishes the new weights as version v+1, evaluates on the
// held-out prompts, appends a line to metrics.jsonl and trained.jsonl and checkpoints every
// trainer.checkpoint_every steps (and when stopped). A resumed trainer starts by telling the buffer
// the checkpoint's step and version (buffer/README.md, "Progress truth").
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/base/peer_error.h"
#include "common/weight_sync.h"
#include "job/job_context.h"
#include "job/weight_group.h"
#include "model/device_weight_slot.h"
#include "model/optim.h"
#include "model/params.h"
#include "trainer/experience.h"
#include "trainer/extra_prompts_client.h"
#include "trainer/job_checkpoint.h"
#include "trainer/quarantine.h"
#include "trainer/trained_prompts.h"

namespace stride {

class BufferClient;
class RlTrainer;
class TrainerRanks;
struct RlStepOptions;
class TrainerMetrics;
using StepMetrics = std::map<std::string, double>;

struct TrainerProgress {
    int64_t step = 0;
    int total_steps = 0;
    double reward_mean = 0, eval_accuracy = -1, tokens_per_s = 0, step_s = 0;
    int64_t reward_errors = 0, reward_timeouts = 0;  // samples of the step the reward did not score
    int64_t tokens = 0;                              // prompt + response tokens the step trained on
};

// The fields of a step's progress line: "reward 0.412 (reward errors 1, timeouts 0) eval 0.500 step 0.52s".
std::string progress_fields(const TrainerProgress& p);

// Reward calls by status, over the samples the trainer trained on.
struct RewardCounts {
    int64_t ok = 0, error = 0, timeout = 0, unparseable = 0;
    int64_t samples() const { return ok + error + timeout + unparseable; }
    int64_t failed() const { return error + timeout; }  // no score: the reward raised or ran out of time
    std::string last_detail, last_prompt_id;            // of the latest failed sample
};

class TrainerRole {
   public:
    // `model` holds the starting weights (version state.policy_version). Binds the weight publisher
    // at weights_endpoint right away so rollout workers can connect.
    TrainerRole(const JobContext& ctx, Model model, JobState state, std::unique_ptr<AdamW> adam,
                const std::string& buffer_endpoint, const std::string& weights_endpoint);
    std::string weights_endpoint() const { return publisher_.endpoint(); }
    // Colocated with the rollout workers on one GPU (launcher: threads): each new version is also put
    // in `slot` device to device, before it is announced. Set before run(); the slot must outlive it.
    void set_device_weight_slot(DeviceWeightSlot* slot) { slot_ = slot; }
    // weights.transport: nccl: each later version is also broadcast to the rollout workers of the NCCL
    // weight group right after its announcement (job/weight_group.h), from the trainer's device weights
    // (the group's channels must read device memory); ZeroMQ still serves every version (the fallback
    // of a worker the group does not reach). Set before run().
    void use_weight_group(std::unique_ptr<WeightGroupSender> group) { group_ = std::move(group); }
    // The scheduler's prompt dispatcher, where dynamic sampling asks for replacement prompts.
    void connect_scheduler(const std::string& endpoint) { extra_prompts_.connect(endpoint); }
    // This trainer replaces one that died in the same job (launcher: processes, recovery.trainer_restarts):
    // even without a checkpoint to resume from it tells the buffer it resumes at step 0, so that what
    // the dead trainer's versions made is dropped and its prompts handed out again.
    void restarted_in_job() { restarted_ = true; }
    // trainer.ranks > 1: this is rank 0 of `ranks` (trainer/trainer_ranks.h): it hands the other ranks
    // their starting state and every step's batch, and trains its share. Set before run().
    void set_ranks(TrainerRanks* ranks) { ranks_ = ranks; }

    // Trains until trainer.steps are done or `stop` is set (then checkpoints and returns). Throws
    // PeerUnreachable when the buffer or the prompt dispatcher does not answer within its deadline
    // (deadlines.*; with a checkpoint unless the step under way was trained but not committed). Throws
    // (after a checkpoint) when more than reward.max_error_frac of the samples of the last kRewardWindowSteps
    // steps got no score.
    // on_step is called after every step (progress display).
    void run(const std::atomic<bool>& stop, const std::function<void(const TrainerProgress&)>& on_step = {});
    const JobState& state() const { return state_; }
    double busy_seconds() const { return busy_s_; }
    double idle_seconds() const { return idle_s_; }
    // Reward statuses of every sample trained on by this process.
    const RewardCounts& reward_totals() const { return reward_totals_; }
    // Groups this process kept aside instead of training (quarantine.h).
    int64_t quarantined_groups() const { return quarantined_; }
    static constexpr int kRewardWindowSteps = 5;

   private:
    struct StepBatches;
    // Pulls the groups of one step from `buffer` (with dynamic sampling, until enough of them are kept).
    StepBatches pull_step(BufferClient& buffer, TrainerMetrics& prometheus, bool dynamic_sampling,
                          const std::atomic<bool>& stop);
    // PPO's critic and the KL reference, as the options and a resumed state need them.
    void prepare(RlTrainer& rl, const RlStepOptions& opt);
    // Writes the checkpoint, then (tell_buffer) tells the buffer the steps it covers are done
    // (CheckpointDurable).
    void save_checkpoint(RlTrainer& rl, BufferClient& buffer, bool tell_buffer = true);
    // A peer did not answer within its deadline (e): checkpoints unless mid_step (the step's update is
    // done, its commit is not), then throws PeerUnreachable saying which.
    [[noreturn]] void stop_for_dead_peer(RlTrainer& rl, BufferClient& buffer, const PeerUnreachable& e,
                                         bool mid_step);
    // At start: tells the buffer where this trainer resumes (or that it started fresh) and removes the
    // lines of later steps from metrics.jsonl (at `jsonl`), trained.jsonl and samples.jsonl.
    void start_over_from_state(BufferClient& buffer, const std::string& jsonl);
    std::string trained_log_path() const;
    std::string sample_log_path() const;  // samples.jsonl (sample_log.h)
    // Publishes model_ as state_.policy_version; device_master: the same weights on the trainer's GPU
    // (null on the cpu), where the NCCL group's buckets are converted from.
    void publish(const float* device_master = nullptr);
    // Adds the step's reward statuses to its metrics and the window; true when the window's share of
    // failed samples exceeds reward.max_error_frac.
    bool reward_health(const RewardCounts& step, StepMetrics& m);
    // rl.step on exps; if it raises (or exps is empty), the step is skipped and the groups left in
    // `training` are quarantined (added to `quarantined`).
    StepMetrics train_step(RlTrainer& rl, const RlStepOptions& opt, const std::vector<Experience>& exps,
                           std::vector<v1::Batch>& training, int& quarantined);
    const JobContext& ctx_;
    Model model_;
    JobState state_;
    std::unique_ptr<AdamW> adam_;
    std::string buffer_endpoint_;
    WeightPublisher publisher_;
    uint32_t published_crc32c_ = 0;  // of the latest version published (trained.jsonl)
    TrainedPrompts
        trained_prompts_;  // where a resume hands prompts out again (state_.first_untrained_prompt)
    DeviceWeightSlot* slot_ = nullptr;
    std::unique_ptr<WeightGroupSender> group_;  // weights.transport: nccl
    ExtraPromptsClient extra_prompts_;
    bool restarted_ = false;
    TrainerRanks* ranks_ = nullptr;
    double busy_s_ = 0, idle_s_ = 0;
    long ds_kept_ = 0, ds_pulled_ = 0;  // dynamic sampling: groups kept / pulled by this process
    RewardCounts reward_totals_;
    TrainLimits limits_;                      // what a group must satisfy to be trained
    int64_t quarantined_ = 0;                 // groups kept aside by this process
    std::deque<RewardCounts> reward_window_;  // the last kRewardWindowSteps steps
};

// The RL step's options and the learning-rate schedule of a job config (every trainer rank alike).
RlStepOptions rl_options(const JobConfig& cfg);
LrSchedule lr_schedule_of(const TrainerConfig& tc);

// Greedy accuracy of `model` on the job's eval prompts (the number metrics.jsonl reports).
double eval_accuracy(const JobContext& ctx, const Model& model);

// The weights of `model` as one published version: F32 bytes plus the tensor table (HF names).
WeightBlob weight_blob_of(const Model& model, int64_t version);

}  // namespace stride
