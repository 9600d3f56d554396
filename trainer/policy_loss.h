// PPO-clip policy loss over a batch of responses (with dual clip, a detached per-token importance
// weight and a per-token loss mask), GSPO's sequence-level ratio, and the loss aggregation modes of
// the reference systems (../shared/spec/algorithms.md §0.2, §1.3, §4.1, §6.2, §8.3, §9.1). It returns the
// loss value and its gradient with respect to each token's log-prob under the current policy, which is
// exactly what Transformer::backward takes: the model never sees the algorithm.
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

// The same with some sequences taken out of the loss (DAPO overlong filtering: truncated responses):
// their tokens get weight 0 and they count as sequences with no valid token, so the token and sequence
// counts of the others' aggregation leave them out (Dr.GRPO's constant B * L_norm is kept). The result
// still has one weight per token of every sequence.
std::vector<float> aggregation_weights_excluding(const std::vector<int>& seq_lens,
                                                 const std::vector<bool>& excluded, LossAgg agg,
                                                 float l_norm = 0.0f);

struct PolicyLossOptions {
    float clip_low = 0.2f;   // ratio lower bound 1 - clip_low
    float clip_high = 0.2f;  // ratio upper bound 1 + clip_high (DAPO clip-higher: 0.28)
    LossAgg agg = LossAgg::token_mean;
    float l_norm = 0.0f;     // for seq_mean_token_sum_norm
    float dual_clip = 0.0f;  // c > 1: loss of A < 0 tokens capped at -c * A (0: off)
};

struct PolicyLossResult {
    double loss = 0;                  // aggregated PPO-clip loss (to minimise)
    double clip_frac_low = 0;         // fraction of tokens clipped at 1 - clip_low (A < 0)
    double clip_frac_high = 0;        // ... at 1 + clip_high (A > 0)
    double clip_frac_dual = 0;        // fraction of A < 0 tokens whose loss the dual clip capped
    double approx_kl = 0;             // k3 estimate of KL(old || new), token-mean
    double approx_kl_k1 = 0;          // token mean of log old - log new (verl's ppo_kl)
    std::vector<float> grad_logprob;  // d loss / d logprob_t, per token
};

// Sums over a slice of tokens, so a mini-batch processed in micro-batches adds its slices up and
// still aggregates over the whole mini-batch (the weights come from aggregation_weights over all of
// it, as verl and TRL do; per-micro-batch normalisation would be a silent bug).
struct PolicyLossSums {
    double loss = 0;   // sum_t w_t l_t
    double kl = 0;     // sum_t k3_t
    double kl_k1 = 0;  // sum_t (log old - log new)
    long clipped_low = 0, clipped_high = 0, dual_clipped = 0, masked = 0, tokens = 0;
    void add(const PolicyLossSums& o) {
        loss += o.loss, kl += o.kl, kl_k1 += o.kl_k1;
        clipped_low += o.clipped_low, clipped_high += o.clipped_high, dual_clipped += o.dual_clipped;
        masked += o.masked, tokens += o.tokens;
    }
};

struct ClipOptions {
    float clip_low = 0.2f;
    float clip_high = 0.2f;
    float dual_clip = 0.0f;  // 0: off, else c > 1
};

// The per-token inputs of a slice of n response tokens. is_weight and mask may be null.
struct TokenLossSlice {
    const float* logprob = nullptr;      // current policy (carries the gradient)
    const float* old_logprob = nullptr;  // proximal policy the ratio is taken against
    const float* advantage = nullptr;
    const float* weight = nullptr;        // aggregation weights (aggregation_weights over the mini-batch)
    const float* is_weight = nullptr;     // detached multiplier after clipping (TIS / decoupled PPO)
    const unsigned char* mask = nullptr;  // 1: the token carries no loss but stays in the denominators
    int n = 0;
};

// PPO-clip (+ dual clip) over one slice: l_t = is_w_t * max(-A r, -A clip(r)), capped at -c A for A < 0.
// Writes d loss / d logprob to grad[0, n). Masked tokens and tokens with is_weight 0 count as masked.
PolicyLossSums ppo_clip_token_loss(const TokenLossSlice& in, const ClipOptions& clip, float* grad);

// GSPO (token form of verl) over the tokens of ONE sequence: s = exp(mean_t(log pi - log old)), log s
// clamped to <= 10, l_t = is_w_t * max(-A_t s, -A_t clip(s)) and d l_t / d logprob_t = is_w_t * (-A_t s)
// on the unclipped branch. With a sequence-constant A this is the exact gradient of the sequence-level
// loss for every aggregation mode. The dual clip does not apply.
PolicyLossSums gspo_sequence_loss(const TokenLossSlice& in, const ClipOptions& clip, float* grad);

// PPO-clip over tokens [0, n) with explicit aggregation weights; writes d loss / d logprob to grad.
PolicyLossSums ppo_clip_loss_slice(const float* logprob, const float* old_logprob, const float* advantage,
                                   const float* weight, int n, float clip_low, float clip_high, float* grad);

// logprob: current policy; old_logprob: the proximal/behaviour log-probs the ratio is taken against;
// advantage: per token (a response's scalar broadcast); all of length sum(seq_lens).
PolicyLossResult ppo_clip_loss(const std::vector<float>& logprob, const std::vector<float>& old_logprob,
                               const std::vector<float>& advantage, const std::vector<int>& seq_lens,
                               const PolicyLossOptions& opt);

// GSPO over a batch (each sequence's ratio from its own tokens), same conventions as ppo_clip_loss.
PolicyLossResult gspo_loss(const std::vector<float>& logprob, const std::vector<float>& old_logprob,
                           const std::vector<float>& advantage, const std::vector<int>& seq_lens,
                           const PolicyLossOptions& opt);

}  // namespace stride
