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
        case LossAgg::token_mean:
            return "token_mean";
        case LossAgg::seq_mean_token_mean:
            return "seq_mean_token_mean";
        case LossAgg::seq_mean_token_sum:
            return "seq_mean_token_sum";
        case LossAgg::seq_mean_token_sum_norm:
            return "seq_mean_token_sum_norm";
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
            case LossAgg::token_mean:
                wi = 1.0 / static_cast<double>(total);
                break;
            case LossAgg::seq_mean_token_mean:
                wi = 1.0 / (static_cast<double>(nonempty) * n);
                break;
            case LossAgg::seq_mean_token_sum:
                wi = 1.0 / nonempty;
                break;
            case LossAgg::seq_mean_token_sum_norm:
                wi = 1.0 / (static_cast<double>(seq_lens.size()) * l_norm);
                break;
        }
        for (int t = 0; t < n; ++t) w.push_back(static_cast<float>(wi));
    }
    return w;
}

std::vector<float> aggregation_weights_excluding(const std::vector<int>& seq_lens,
                                                 const std::vector<bool>& excluded, LossAgg agg,
                                                 float l_norm) {
    STRIDE_CHECK(excluded.size() == seq_lens.size(), "aggregation_weights_excluding: one flag per sequence");
    if (std::find(excluded.begin(), excluded.end(), true) == excluded.end())
        return aggregation_weights(seq_lens, agg, l_norm);  // the usual case: nothing left out
    std::vector<int> kept_lens = seq_lens;
    for (size_t i = 0; i < seq_lens.size(); ++i)
        if (excluded[i]) kept_lens[i] = 0;
    const std::vector<float> kept = aggregation_weights(kept_lens, agg, l_norm);
    std::vector<float> w;
    w.reserve(kept.size());
    size_t src = 0;
    for (size_t i = 0; i < seq_lens.size(); ++i) {
        if (excluded[i]) {
            w.insert(w.end(), static_cast<size_t>(seq_lens[i]), 0.0f);
        } else {
            w.insert(w.end(), kept.begin() + src, kept.begin() + src + seq_lens[i]);
            src += seq_lens[i];
        }
    }
    return w;
}

namespace {

void check_clip(const ClipOptions& c) {
    STRIDE_CHECK(c.clip_low >= 0 && c.clip_low < 1, "policy loss: clip_low must be in [0, 1)");
    STRIDE_CHECK(c.clip_high >= 0, "policy loss: clip_high must be >= 0");
    STRIDE_CHECK(c.dual_clip == 0 || c.dual_clip > 1, "policy loss: dual_clip must be 0 (off) or > 1");
}

// Ratio in log space, clamped as verl does so exp never overflows.
double clamped_log_ratio(float logprob, float old_logprob) {
    return std::clamp(static_cast<double>(logprob) - old_logprob, -20.0, 20.0);
}

}  // namespace

PolicyLossSums ppo_clip_token_loss(const TokenLossSlice& in, const ClipOptions& clip, float* grad) {
    check_clip(clip);
    PolicyLossSums s;
    s.tokens = in.n;
    for (int t = 0; t < in.n; ++t) {
        const double log_ratio = clamped_log_ratio(in.logprob[t], in.old_logprob[t]);
        s.kl += std::exp(-log_ratio) + log_ratio - 1.0;  // k3 of KL(old || new)
        s.kl_k1 -= log_ratio;
        const double is_w = in.is_weight ? in.is_weight[t] : 1.0;
        grad[t] = 0.0f;
        if ((in.mask && in.mask[t]) || is_w == 0.0) {
            ++s.masked;
            continue;
        }
        const double ratio = std::exp(log_ratio);
        const double A = in.advantage[t];
        const double clipped = std::clamp(ratio, 1.0 - clip.clip_low, 1.0 + clip.clip_high);
        const double l_unclipped = -A * ratio;
        const double l_clipped = -A * clipped;
        // max(l1, l2): the gradient flows only through the unclipped branch when it is selected.
        const bool use_clipped = l_clipped > l_unclipped;
        double l = use_clipped ? l_clipped : l_unclipped;
        bool flows = !use_clipped;
        if (use_clipped) {
            if (ratio < 1.0 - clip.clip_low)
                ++s.clipped_low;
            else
                ++s.clipped_high;
        }
        // Dual clip: a negative-advantage token whose ratio exploded has its loss capped (constant).
        if (clip.dual_clip > 0 && A < 0 && l > -clip.dual_clip * A) {
            l = -clip.dual_clip * A;
            flows = false;
            ++s.dual_clipped;
        }
        s.loss += in.weight[t] * is_w * l;
        if (flows) grad[t] = static_cast<float>(in.weight[t] * is_w * (-A * ratio));  // d(-A e^{lp-old})/dlp
    }
    return s;
}

PolicyLossSums gspo_sequence_loss(const TokenLossSlice& in, const ClipOptions& clip, float* grad) {
    check_clip(clip);
    PolicyLossSums s;
    s.tokens = in.n;
    if (in.n == 0) return s;  // zero-length: s = 1 and no token carries its (zero) loss
    double sum_log_ratio = 0;
    for (int t = 0; t < in.n; ++t) {
        const double lr = clamped_log_ratio(in.logprob[t], in.old_logprob[t]);
        sum_log_ratio += lr;
        s.kl += std::exp(-lr) + lr - 1.0;
        s.kl_k1 -= lr;
    }
    // Geometric-mean ratio; verl clamps its log at 10 (gradient zero beyond, as torch.clamp).
    const double mean_log_ratio = sum_log_ratio / in.n;
    const bool log_s_clamped = mean_log_ratio > 10.0;
    const double seq_ratio = std::exp(std::min(mean_log_ratio, 10.0));
    const double clipped = std::clamp(seq_ratio, 1.0 - clip.clip_low, 1.0 + clip.clip_high);
    for (int t = 0; t < in.n; ++t) {
        const double is_w = in.is_weight ? in.is_weight[t] : 1.0;
        grad[t] = 0.0f;
        if ((in.mask && in.mask[t]) || is_w == 0.0) {
            ++s.masked;
            continue;
        }
        const double A = in.advantage[t];
        const double l_unclipped = -A * seq_ratio;
        const double l_clipped = -A * clipped;
        const bool use_clipped = l_clipped > l_unclipped;
        if (use_clipped) {
            if (seq_ratio < 1.0 - clip.clip_low)
                ++s.clipped_low;
            else
                ++s.clipped_high;
        }
        s.loss += in.weight[t] * is_w * (use_clipped ? l_clipped : l_unclipped);
        // Token form: s_t = exp(sg[log s] + lp_t - sg[lp_t]), so d s_t / d lp_t = s.
        if (!use_clipped && !log_s_clamped)
            grad[t] = static_cast<float>(in.weight[t] * is_w * (-A * seq_ratio));
    }
    return s;
}

PolicyLossSums ppo_clip_loss_slice(const float* logprob, const float* old_logprob, const float* advantage,
                                   const float* weight, int n, float clip_low, float clip_high, float* grad) {
    TokenLossSlice in;
    in.logprob = logprob, in.old_logprob = old_logprob, in.advantage = advantage, in.weight = weight,
    in.n = n;
    return ppo_clip_token_loss(in, {clip_low, clip_high, 0.0f}, grad);
}

namespace {

PolicyLossResult finish(const PolicyLossSums& s, size_t T, PolicyLossResult r) {
    r.loss = s.loss;
    if (T) {
        r.clip_frac_low = static_cast<double>(s.clipped_low) / T;
        r.clip_frac_high = static_cast<double>(s.clipped_high) / T;
        r.clip_frac_dual = static_cast<double>(s.dual_clipped) / T;
        r.approx_kl = s.kl / T;
        r.approx_kl_k1 = s.kl_k1 / T;
    }
    return r;
}

}  // namespace

PolicyLossResult ppo_clip_loss(const std::vector<float>& logprob, const std::vector<float>& old_logprob,
                               const std::vector<float>& advantage, const std::vector<int>& seq_lens,
                               const PolicyLossOptions& opt) {
    const size_t T = logprob.size();
    STRIDE_CHECK(old_logprob.size() == T && advantage.size() == T,
                 "ppo_clip_loss: per-token inputs differ in size");
    const std::vector<float> w = aggregation_weights(seq_lens, opt.agg, opt.l_norm);
    STRIDE_CHECK(w.size() == T, "ppo_clip_loss: seq_lens do not add up to the token count");
    PolicyLossResult r;
    r.grad_logprob.assign(T, 0.0f);
    TokenLossSlice in;
    in.logprob = logprob.data(), in.old_logprob = old_logprob.data(), in.advantage = advantage.data();
    in.weight = w.data(), in.n = static_cast<int>(T);
    const PolicyLossSums s =
        ppo_clip_token_loss(in, {opt.clip_low, opt.clip_high, opt.dual_clip}, r.grad_logprob.data());
    return finish(s, T, std::move(r));
}

PolicyLossResult gspo_loss(const std::vector<float>& logprob, const std::vector<float>& old_logprob,
                           const std::vector<float>& advantage, const std::vector<int>& seq_lens,
                           const PolicyLossOptions& opt) {
    const size_t T = logprob.size();
    STRIDE_CHECK(old_logprob.size() == T && advantage.size() == T,
                 "gspo_loss: per-token inputs differ in size");
    const std::vector<float> w = aggregation_weights(seq_lens, opt.agg, opt.l_norm);
    STRIDE_CHECK(w.size() == T, "gspo_loss: seq_lens do not add up to the token count");
    PolicyLossResult r;
    r.grad_logprob.assign(T, 0.0f);
    PolicyLossSums s;
    size_t off = 0;
    for (int n : seq_lens) {
        TokenLossSlice in;
        in.logprob = logprob.data() + off, in.old_logprob = old_logprob.data() + off;
        in.advantage = advantage.data() + off, in.weight = w.data() + off, in.n = n;
        s.add(gspo_sequence_loss(in, {opt.clip_low, opt.clip_high, 0.0f}, r.grad_logprob.data() + off));
        off += n;
    }
    return finish(s, T, std::move(r));
}

}  // namespace stride
