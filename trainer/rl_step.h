// One policy-gradient update from a batch of groups: advantages, per-token policy loss aggregated
// over each optimiser mini-batch, backward through the engine in micro-batches of at most
// `micro_batch_tokens`, grad-norm clipping and AdamW. The model only sees d loss / d logprob and
// d loss / d entropy per token (Transformer::backward); every algorithm lives here and in the pure
// functions it calls (advantage.h, policy_loss.h, kl.h, importance.h, mpt_mask.h, vcpo.h, gae.h); PPO's
// learned critic is trainer/critic.h.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/optim.h"
#include "model/params.h"
#include "model/trainable_model.h"
#include "model/transformer.h"
#include "trainer/collective.h"
#include "trainer/critic.h"
#include "trainer/experience.h"
#include "trainer/importance.h"
#include "trainer/kl.h"
#include "trainer/mpt_mask.h"
#include "trainer/policy_loss.h"
#include "trainer/vcpo.h"

namespace stride {

enum class AdvantageKind {
    grpo,                   // group-centred, optionally / group std (GRPO, Dr.GRPO, DAPO, GSPO)
    rloo,                   // leave-one-out group baseline
    reinforce_pp,           // token returns (KL folded into the reward), whitened over the batch
    reinforce_pp_baseline,  // group-centred reward, whitened over the batch's tokens
    opob,                   // VCPO off-policy optimal baseline: needs one extra forward+backward per response
    gae,  // PPO: GAE over a learned critic's values, whitened over the batch (enable_critic)
};

enum class PolicyLossKind {
    ppo_clip,  // token ratio, clip-low/high, optional dual clip
    gspo,      // sequence-level length-normalised ratio
};

struct RlStepOptions {
    AdvantageKind advantage = AdvantageKind::grpo;
    PolicyLossKind policy_loss = PolicyLossKind::ppo_clip;
    bool divide_adv_by_std = true;  // GRPO (false: Dr.GRPO)
    double adv_eps = 1e-6;
    double gamma = 1.0;      // discount of REINFORCE++ returns and of GAE
    double lam = 1.0;        // GAE lambda (verl's PPO default for LLMs: 1.0)
    double vf_clip = 0.5;    // value clip range eps_v around the proximal values
    double vf_coef = 0.5;    // shared critic: weight of the value loss in the trunk's loss
    PolicyLossOptions loss;  // clip range, dual clip, aggregation
    double entropy_coef = 0.0;
    // KL to a frozen reference (a copy of the weights at the first step that needs it, or
    // set_reference): a loss term beta * agg(k(logp, logp_ref)), or, with kl_in_reward, a per-token
    // reward term -beta * k(logp_old, logp_ref) (REINFORCE++). 0: no reference model.
    double kl_coef = 0.0;
    KlType kl_type = KlType::k3;
    bool kl_in_reward = false;
    bool dynamic_sampling = false;  // DAPO: drop groups whose correctness is all equal
    bool overlong_filter = false;   // DAPO: truncated responses carry no loss (their rewards still
                                    // count in their group's advantages)
    IsOptions behaviour_is;         // TIS / decoupled PPO weight pi_prox / mu, per token or sequence (off)
    bool mpt_mask = false;          // UloRL: mask well-mastered positive tokens
    MptOptions mpt;
    EssLrScaling ess_lr = EssLrScaling::off;  // VCPO: scale the lr by the sequence ESS
    double ess_rho_base = 1.0;
    bool opob_norm_by_std = true;   // VCPO reference setting
    int ppo_epochs = 1;             // passes over the batch
    int mini_batches = 1;           // optimiser steps per pass (whole groups each)
    float temperature = 1.0f;       // log-probs of the temperature-scaled policy, as sampled
    int micro_batch_tokens = 8192;  // 0: the whole batch in one forward
    float grad_clip = 1.0f;
    bool recompute = false;
};

// The collectives of a data-parallel trainer (trainer.ranks > 1): `grads` sums the gradient buffer
// (memory of trainer.device: NCCL on a GPU), `host` sums host arrays (the loss sums, per-token
// log-probs); on the CPU both are the same ZeroMQ group. Both null: one rank.
struct RankComms {
    Collective* grads = nullptr;
    Collective* host = nullptr;
    bool active() const { return host != nullptr && host->size() > 1; }
};

// Per-step numbers for metrics.jsonl (keys as they appear there).
using StepMetrics = std::map<std::string, double>;

class RlTrainer {
   public:
    // Trains `model` on `backend` (trainer.device): the engine, gradients and AdamW state live on its
    // device, the reference and a separate critic too; model.data holds the new weights after step().
    RlTrainer(Model& model, const AdamWConfig& adam, const LrSchedule& schedule,
              const Backend& backend = cpu_backend());
    ~RlTrainer();

    // Trains on `batch`: ppo_epochs x mini_batches optimiser steps, all against the proximal policy
    // (the weights at entry; its log-probs come from a scoring pass when there is more than one
    // update). policy_version is the version the weights have now (for staleness and the
    // train-inference mismatch, measured on tokens sampled by this very version).
    StepMetrics step(const std::vector<Experience>& batch, const RlStepOptions& opt, int64_t policy_version);

    // Freezes a copy of `reference` as pi_ref for the KL terms (otherwise the weights at the first
    // step with kl_coef > 0 are copied).
    void set_reference(const Model& reference);
    bool has_reference() const { return ref_model_ != nullptr; }

    // Creates PPO's critic (needed by AdvantageKind::gae). A separate critic starts from the policy's
    // weights as they are now. Its learning rate follows the policy's schedule, scaled to opt.adam.lr.
    void enable_critic(const CriticOptions& opt);
    Critic* critic() { return critic_.get(); }

    // Data parallel: from now on every pass of step() computes only this rank's share of the batch
    // (split by token count, trainer/token_split.h) and the ranks sum what the passes produce: the
    // gradients (in buckets, after each mini-batch's backward), the loss sums, the per-token log-probs.
    // The advantages, the loss weights (token-mean over the whole mini-batch, ...) and the optimiser
    // step are computed on every rank from the same numbers, so every rank holds the same weights and
    // the update is the one-rank update up to the order of float sums. Not with a critic (PPO).
    void set_rank_comms(RankComms comms) { comms_ = comms; }
    // The frozen KL reference, once there is one (rank 0 hands it to the other ranks).
    const Model* reference() const { return ref_model_.get(); }

    AdamW& optimizer() { return adam_; }
    // The policy's weights on the device (what step() updates); null on the CPU (model.data).
    float* device_weights() { return engine_.device_weights(); }
    int64_t steps_done() const { return adam_.step_count(); }

   private:
    // step() without the host copy of the weights a failure still makes.
    StepMetrics run_step(const std::vector<Experience>& batch, const RlStepOptions& opt,
                         int64_t policy_version);
    // The stages of step (rl_step.cpp).
    struct StepState;
    struct UpdateSums;
    struct MiniBatchSums;
    void plan(StepState& st);
    void score(StepState& st);
    void compute_advantages(StepState& st);
    void gae_advantages(StepState& st);
    void update_mini_batch(StepState& st, const std::vector<size_t>& mb, bool first_pass,
                           int64_t policy_version, UpdateSums& u);
    void micro_batch_loss(StepState& st, const std::vector<size_t>& mb, size_t b, size_t e,
                          const std::vector<float>& weights, size_t& woff, MiniBatchSums& mb_sums);
    void sample_loss(StepState& st, size_t i, const float* lp, const float* H, const float* w, float* g,
                     float* g_ent, MiniBatchSums& mb_sums);
    static void entry_token_stats(const StepState& st, size_t i, int64_t policy_version, UpdateSums& u);
    // Data parallel: the samples of `among` (indices into the batch) this rank computes.
    std::vector<size_t> my_share(const StepState& st, const std::vector<size_t>& among) const;
    // Data parallel: sums over the ranks what their shares of a mini-batch produced.
    void reduce_over_ranks(StepState& st, MiniBatchSums& mb_sums);
    void optimizer_step(const StepState& st, const MiniBatchSums& mb_sums, double ess_frac, UpdateSums& u);
    void step_metrics(const StepState& st, const UpdateSums& u, StepMetrics& m) const;

    // |grad of sum_t log pi(y_t)|^2 per response (one forward + backward each) and log w_i, the
    // sequence log IS weight against the behaviour policy, for the OPOB baseline.
    std::vector<double> trajectory_grad_sq_norms(const std::vector<Experience>& batch,
                                                 const ForwardOptions& fo, std::vector<double>& log_w);

    Model& model_;
    TrainableModel policy_;  // engine, gradients and AdamW state on the backend's device
    Transformer& engine_;    // policy_.engine()
    AdamW& adam_;            // policy_.optimizer()
    LrSchedule schedule_;
    std::unique_ptr<Model> ref_model_;
    std::unique_ptr<Transformer> ref_engine_;
    std::unique_ptr<Critic> critic_;
    RankComms comms_;
};

}  // namespace stride
