#include "trainer/policy_loss.h"

#include <algorithm>
#include <cmath>

#include "common/base/error.h"

namespace stride {

LossAgg loss_agg_from_name(const std::string& n) {
    if (n == "token_mean") return LossAgg::token_mean;
    if (n == "seq_mean_token_mean") return LossAgg::seq_mean_token_mean;
    if (n == "seq_mean_token_sum") return LossAgg::seq_mean_token_sum;
    if (n == "seq_mean_token_sum_norm") return LossAgg::seq_mean_token_sum_norm;
    throw Error("unknown loss aggregation '" + n +
                "' (token_mean, seq_mean_token_mean, seq_mean_token_sum, seq_mean_token_sum_norm)");
}

const char* loss_agg_name(LossAgg a) {
    switch (a) {
        case LossAgg::token_mean: return "token_mean";
        case LossAgg::seq_mean_token_mean: return "seq_mean_token_mean";
        case LossAgg::seq_mean_token_sum: return "seq_mean_token_sum";
        case LossAgg::seq_mean_token_sum_norm: return "seq_mean_token_sum_norm";
    }
    return "?";
}

std::vector<float> aggregation_weights(const std::vector<int>& seq_lens, LossAgg agg, float l_norm) {
    size_t total = 0;
    int nonempty = 0;
    for (int n : seq_lens) {
        STRIDE_CHECK(n >= 0, "aggregation_weights: negative sequence length");
        total += n;
        nonempty += n > 0;
    }
    std::vector<float> w;
    w.reserve(total);
    if (total == 0) return w;
    if (agg == LossAgg::seq_mean_token_sum_norm)
        STRIDE_CHECK(l_norm > 0, "loss aggregation seq_mean_token_sum_norm needs l_norm > 0");
    for (int n : seq_lens) {
        double wi = 0;
        switch (agg) {
            case LossAgg::token_mean: wi = 1.0 / static_cast<double>(total); break;
            case LossAgg::seq_mean_token_mean: wi = 1.0 / (static_cast<double>(nonempty) * n); break;
            case LossAgg::seq_mean_token_sum: wi = 1.0 / nonempty; break;
            case LossAgg::seq_mean_token_sum_norm:
                wi = 1.0 / (static_cast<double>(seq_lens.size()) * l_norm);
                break;
        }
        for (int t = 0; t < n; ++t) w.push_back(static_cast<float>(wi));
    }
    return w;
}

PolicyLossSums ppo_clip_loss_slice(const float* logprob, const float* old_logprob, const float* advantage,
                                   const float* weight, int n, float clip_low, float clip_high, float* grad) {
    STRIDE_CHECK(clip_low >= 0 && clip_low < 1, "ppo_clip_loss: clip_low must be in [0, 1)");
    STRIDE_CHECK(clip_high >= 0, "ppo_clip_loss: clip_high must be >= 0");
    PolicyLossSums s;
    s.tokens = n;
    for (int t = 0; t < n; ++t) {
        // Ratio in log space, clamped as verl does so exp never overflows.
        const double log_ratio = std::clamp(static_cast<double>(logprob[t]) - old_logprob[t], -20.0, 20.0);
        const double ratio = std::exp(log_ratio);
        const double A = advantage[t];
        const double clipped = std::clamp(ratio, 1.0 - clip_low, 1.0 + clip_high);
        const double l_unclipped = -A * ratio;
        const double l_clipped = -A * clipped;
        // max(l1, l2): the gradient flows only through the unclipped branch when it is selected.
        const bool use_clipped = l_clipped > l_unclipped;
        s.loss += weight[t] * (use_clipped ? l_clipped : l_unclipped);
        if (use_clipped) {
            if (ratio < 1.0 - clip_low) ++s.clipped_low;
            else ++s.clipped_high;
            grad[t] = 0.0f;
        } else {
            grad[t] = static_cast<float>(weight[t] * (-A * ratio));  // d(-A e^{lp-old})/dlp
        }
        s.kl += std::exp(-log_ratio) + log_ratio - 1.0;  // k3 of KL(old || new)
    }
    return s;
}

PolicyLossResult ppo_clip_loss(const std::vector<float>& logprob, const std::vector<float>& old_logprob,
                               const std::vector<float>& advantage, const std::vector<int>& seq_lens,
                               const PolicyLossOptions& opt) {
    const size_t T = logprob.size();
    STRIDE_CHECK(old_logprob.size() == T && advantage.size() == T, "ppo_clip_loss: per-token inputs differ in size");
    const std::vector<float> w = aggregation_weights(seq_lens, opt.agg, opt.l_norm);
    STRIDE_CHECK(w.size() == T, "ppo_clip_loss: seq_lens do not add up to the token count");
    PolicyLossResult r;
    r.grad_logprob.assign(T, 0.0f);
    PolicyLossSums s = ppo_clip_loss_slice(logprob.data(), old_logprob.data(), advantage.data(), w.data(),
                                           static_cast<int>(T), opt.clip_low, opt.clip_high, r.grad_logprob.data());
    r.loss = s.loss;
    if (T) {
        r.clip_frac_low = static_cast<double>(s.clipped_low) / T;
        r.clip_frac_high = static_cast<double>(s.clipped_high) / T;
        r.approx_kl = s.kl / T;
    }
    return r;
}

}  // namespace stride
