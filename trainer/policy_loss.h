// PPO-clip policy loss over a batch of responses, with the loss aggregation modes of the reference
// systems (../shared/spec/algorithms.md §0.2, §1.3). It returns the loss value and its gradient with
// respect to each token's log-prob under the current policy, which is exactly what
// Transformer::backward takes: the model never sees the algorithm.
#pragma once
#include <string>
#include <vector>

namespace stride {

enum class LossAgg {
    token_mean,               // sum(m l) / sum(m) over the whole mini-batch (DAPO, verl default)
    seq_mean_token_mean,      // mean over sequences of each sequence's token mean (original GRPO)
    seq_mean_token_sum,       // mean over sequences of each sequence's token sum
    seq_mean_token_sum_norm,  // sum(m l) / (B * L_norm) (Dr.GRPO, TRL form)
};

LossAgg loss_agg_from_name(const std::string& name);  // token_mean | seq_mean_token_mean | ...
const char* loss_agg_name(LossAgg a);

// Per-token weights w such that the aggregated loss is sum_t w_t * l_t. seq_lens[i] is the number of
// loss-carrying tokens of sequence i (its tokens are contiguous in the flat token order). Sequences
// with no valid token are left out of the sequence count, as verl does. l_norm is Dr.GRPO's L_norm.
std::vector<float> aggregation_weights(const std::vector<int>& seq_lens, LossAgg agg, float l_norm = 0.0f);

struct PolicyLossOptions {
    float clip_low = 0.2f;   // ratio lower bound 1 - clip_low
    float clip_high = 0.2f;  // ratio upper bound 1 + clip_high (DAPO clip-higher: 0.28)
    LossAgg agg = LossAgg::token_mean;
    float l_norm = 0.0f;     // for seq_mean_token_sum_norm
};

struct PolicyLossResult {
    double loss = 0;                // aggregated PPO-clip loss (to minimise)
    double clip_frac_low = 0;       // fraction of tokens clipped at 1 - clip_low (A < 0)
    double clip_frac_high = 0;      // ... at 1 + clip_high (A > 0)
    double approx_kl = 0;           // k3 estimate of KL(old || new), token-mean
    std::vector<float> grad_logprob;  // d loss / d logprob_t, per token
};

// Sums over a slice of tokens, so a mini-batch processed in micro-batches adds its slices up and
// still aggregates over the whole mini-batch (the weights come from aggregation_weights over all of
// it, as verl and TRL do; per-micro-batch normalisation would be a silent bug).
struct PolicyLossSums {
    double loss = 0;   // sum_t w_t l_t
    double kl = 0;     // sum_t k3_t
    long clipped_low = 0, clipped_high = 0, tokens = 0;
    void add(const PolicyLossSums& o) {
        loss += o.loss, kl += o.kl, clipped_low += o.clipped_low, clipped_high += o.clipped_high, tokens += o.tokens;
    }
};

// PPO-clip over tokens [0, n) with explicit aggregation weights; writes d loss / d logprob to grad.
PolicyLossSums ppo_clip_loss_slice(const float* logprob, const float* old_logprob, const float* advantage,
                                   const float* weight, int n, float clip_low, float clip_high, float* grad);

// logprob: current policy; old_logprob: the proximal/behaviour log-probs the ratio is taken against;
// advantage: per token (a response's scalar broadcast); all of length sum(seq_lens).
PolicyLossResult ppo_clip_loss(const std::vector<float>& logprob, const std::vector<float>& old_logprob,
                               const std::vector<float>& advantage, const std::vector<int>& seq_lens,
                               const PolicyLossOptions& opt);

}  // namespace stride
