// Outcome-reward advantage estimators: one scalar per response, broadcast to its tokens by the loss.
// Formulas and edge cases: ../shared/spec/algorithms.md §2 (GRPO, Dr.GRPO), §3.2 (DAPO dynamic
// sampling), §5 (RLOO, REINFORCE++), §7.3 (VCPO's off-policy optimal baseline).
#pragma once
#include <vector>

namespace stride {

struct GroupAdvantageOptions {
    bool divide_by_std = true;  // GRPO: true; Dr.GRPO: false
    double eps = 1e-6;          // added to the unbiased std (verl)
};

// A_i = (R_i - mean_g) / (std_g + eps) within each group g (responses to one prompt), std unbiased
// (Bessel). A group of one response gets A = 0 (it carries no relative signal), and a group whose
// rewards are all equal gets A = 0 exactly. group_of[i] is any integer id shared by a group.
std::vector<double> group_advantages(const std::vector<double>& rewards, const std::vector<long>& group_of,
                                     const GroupAdvantageOptions& opt = {});

// RLOO: A_i = R_i - mean of the other members of its group = G/(G-1) * (R_i - mean_g), no std.
// A group of one gets A = 0 (AReaL / verl's vectorised form).
std::vector<double> rloo_advantages(const std::vector<double>& rewards, const std::vector<long>& group_of);

// (x - mean) / sqrt(var_unbiased + eps) over all values (the valid tokens of a batch), re-centred as
// verl's masked_whiten. With fewer than two values the unbiased variance is undefined: the values
// are only centred (so a single token gets 0) instead of raising as verl does.
std::vector<double> whiten(const std::vector<double>& x, double eps = 1e-8);

// REINFORCE++, per token of the flat response order (sequence i has seq_lens[i] tokens):
// r_t = score_i * [t is the last token] - kl_penalty_t, G_t = r_t + gamma * G_{t+1} within the
// sequence, then whiten G over every token of the batch. kl_penalty is beta * KL_t already (empty: no
// KL in the reward). A zero-length response has no token to carry its score and contributes nothing.
std::vector<double> reinforce_pp_advantages(const std::vector<double>& scores,
                                            const std::vector<int>& seq_lens,
                                            const std::vector<double>& kl_penalty = {}, double gamma = 1.0);

// REINFORCE++-baseline: R_i - mean_g (a group of one keeps R_i: its mean is taken as 0, as in the
// spec), broadcast to the response's tokens, then whitened over every token of the batch.
std::vector<double> reinforce_pp_baseline_advantages(const std::vector<double>& scores,
                                                     const std::vector<long>& group_of,
                                                     const std::vector<int>& seq_lens);

// DAPO dynamic sampling: a group is kept iff the population std of its metric (0/1 correctness in the
// DAPO recipe) is > 0, or it has a single member. keep[i] is per sample.
struct GroupFilter {
    std::vector<bool> keep;
    int groups = 0;
    int kept_groups = 0;
};
GroupFilter dynamic_sampling_filter(const std::vector<double>& metric, const std::vector<long>& group_of);

// How many new prompts a dynamic-sampling step asks for after a pull. `missing` groups with varying
// correctness are still needed and `outstanding` requested groups are not back yet. Without
// oversampling: one per group that the pull just dropped (`flat_now`), so every requested group is
// eventually needed. With oversampling: enough that the outstanding and new groups are expected to
// hold `missing` kept ones at the job's keep rate so far (floored at kMinKeepRate), as verl's larger
// generation batches do: a step whose last missing group comes back flat again and again otherwise
// waits for one group's generation, tail included, per attempt. Never negative.
constexpr double kMinKeepRate = 0.1;
long dynamic_sampling_requests(long missing, long outstanding, long flat_now, double keep_rate,
                               bool oversample);

// VCPO closed-form off-policy optimal baseline (OPOB, paper form): per group,
// b = sum_i W_i R_i / (sum_i W_i + 1e-8) with W_i = |g_i|^2 * w_i^2 (g_i: the gradient of response i's
// token-summed log-prob, w_i: its sequence IS weight), A_i = R_i - b. norm_by_std divides by the
// group's population reward std when it is > 1e-8. All W_i = 0 gives b = 0.
std::vector<double> opob_advantages(const std::vector<double>& rewards, const std::vector<long>& group_of,
                                    const std::vector<double>& grad_sq_norm,
                                    const std::vector<double>& is_weight, bool norm_by_std = false);

}  // namespace stride
