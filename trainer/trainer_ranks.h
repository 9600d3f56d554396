// trainer/trainer_ranks.h: the data-parallel trainer (trainer.ranks > 1), rank 0's side and the other
// ranks' loop.
//
// Rank 0 is the trainer role: it alone talks to the buffer, the dispatcher and the rollout workers,
// logs metrics, publishes weights and writes checkpoints. At start it hands every rank its starting
// state (weights, AdamW moments and step count, the KL reference), so a checkpoint written by rank 0
// resumes with any rank count. For each step it sends every rank the whole batch (a few token ids per
// sample: small next to the gradients) with the policy version; every rank runs RlTrainer::step on it,
// computing only its share of each pass (split by token count, trainer/token_split.h) while the
// advantages and the loss weights come from the whole batch (rl_step.h, set_rank_comms). The
// gradients are summed over the ranks after each mini-batch's backward, in buckets; every rank then
// takes the same AdamW step, so all hold the same weights without a weight broadcast.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "job/job_context.h"
#include "model/optim.h"
#include "model/params.h"
#include "trainer/experience.h"
#include "trainer/rl_step.h"
#include "trainer/zmq_collective.h"

namespace stride {

// What rank 0 sends the other ranks: a step to train, or the end of the job.
struct RankCommand {
    bool stop = false;
    int64_t policy_version = 0;
    std::vector<Experience> batch;
};
std::string encode_rank_command(const RankCommand& c);
RankCommand decode_rank_command(const std::string& bytes);  // throws Error on a malformed message

// Rank 0's end of the group: `control` is the ZeroMQ group, `comms` what RlTrainer reduces over.
class TrainerRanks {
   public:
    TrainerRanks(ZmqCollective& control, RankComms comms) : control_(control), comms_(comms) {}
    int size() const { return control_.size(); }
    RankComms comms() const { return comms_; }
    // Every rank's starting state := rank 0's (`reference`: null when there is none yet).
    void share_start(Model& model, AdamW& adam, const Model* reference);
    void announce_step(const std::vector<Experience>& batch, int64_t policy_version);
    void announce_stop();

   private:
    ZmqCollective& control_;
    RankComms comms_;
};

// The receiving side of TrainerRanks::share_start: fills `model` (its config already set), `adam`
// and, when rank 0 has a reference, `reference` (returns whether it has).
bool receive_start(ZmqCollective& control, Model& model, AdamW& adam, Model& reference);

// A rank > 0: receives its starting state, then trains every step rank 0 announces until it
// announces the end (returns 0) or `stop` is set (returns 130). A CollectiveError (a rank died,
// missed the deadline) ends it by throwing.
int run_trainer_rank(const JobContext& ctx, ZmqCollective& control, RankComms comms,
                     const std::atomic<bool>& stop);

}  // namespace stride
