// Importance weights between the trainer's proximal policy and the behaviour policy mu that sampled
// the tokens (the inference engine, possibly stale): token-level TIS for the train-inference
// mismatch (../shared/spec/algorithms.md §9.1), the capped/rejected behaviour weight of decoupled PPO
// (§6.2-6.3) and icepop masking (§9.2) are the same function with a different action; at sequence level
// (§9.3, VCPO's reference setting §7.4) one weight per response covers all its tokens. The weights are
// constants (no gradient) multiplied into the per-token policy loss after clipping.
#pragma once
#include <string>
#include <vector>

namespace stride {

enum class IsCorrection {
    none,      // weight 1 everywhere
    truncate,  // TIS: w = clamp(rho, low, cap) (verl tis_imp_ratio_cap, slime --use-tis; cap 2)
    mask,      // decoupled PPO / icepop: w = rho if low <= rho <= cap else 0 (AReaL token_mask, cap 5)
};

IsCorrection is_correction_from_name(const std::string& name);  // none | truncate | mask

enum class IsLevel {
    token,     // rho_t per token
    sequence,  // one rho = prod_t rho_t per response, on every token of it (verl rollout_is = sequence)
};

IsLevel is_level_from_name(const std::string& name);  // token | sequence

struct IsOptions {
    IsCorrection mode = IsCorrection::none;
    double cap = 2.0;  // upper bound C on rho
    double low = 0.0;  // lower bound (0: none)
    IsLevel level = IsLevel::token;
};

struct IsStats {
    long tokens = 0, truncated = 0, rejected = 0;
    double sum = 0, sum_sq = 0;  // of the final weights
    void add(const IsStats& o) {
        tokens += o.tokens, truncated += o.truncated, rejected += o.rejected, sum += o.sum,
            sum_sq += o.sum_sq;
    }
};

// rho_t = exp(clamp(prox_t - behav_t, -20, 20)); a non-finite difference (-inf - -inf) counts as 0 (AReaL)
// and +-inf clamps to +-20. Writes w_t to out[0, n); rejected tokens get w = 0. With level = sequence,
// [0, n) is one response: rho = exp(sum_t clamp(prox_t - behav_t)), compared with [low, cap] in log
// space (no overflow however long the response), and the truncated weight (or 0 for a rejected
// response, or rho) is written to every token; truncated/rejected count the response's tokens.
IsStats importance_weights(const float* prox_logprob, const float* behav_logprob, int n, const IsOptions& opt,
                           float* out);

// verl's token ESS of the weights: 1 / mean((w / mean w)^2), a fraction in (0, 1]; 0 for no weight or
// all-zero weights.
double token_ess_fraction(const std::vector<float>& w);

// sum_t (a_t - b_t) with non-finite differences counted as 0: the log of a sequence-level ratio.
double sequence_log_ratio(const float* a, const float* b, int n);

}  // namespace stride
