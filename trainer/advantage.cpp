#include "trainer/advantage.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "common/base/error.h"

namespace stride {

std::vector<double> group_advantages(const std::vector<double>& rewards, const std::vector<long>& group_of,
                                     const GroupAdvantageOptions& opt) {
    STRIDE_CHECK(rewards.size() == group_of.size(), "group_advantages: rewards and group ids differ in size");
    struct Stats {
        double sum = 0, sum_sq_dev = 0, mean = 0;
        int n = 0;
    };
    std::unordered_map<long, Stats> groups;
    for (size_t i = 0; i < rewards.size(); ++i) {
        Stats& s = groups[group_of[i]];
        s.sum += rewards[i];
        s.n += 1;
    }
    for (auto& [id, s] : groups) s.mean = s.sum / s.n;
    // Two passes (mean first) so that rewards such as [1, 1, 1, 1 - 1e-3] keep their precision.
    for (size_t i = 0; i < rewards.size(); ++i) {
        Stats& s = groups[group_of[i]];
        const double d = rewards[i] - s.mean;
        s.sum_sq_dev += d * d;
    }
    std::vector<double> adv(rewards.size(), 0.0);
    for (size_t i = 0; i < rewards.size(); ++i) {
        const Stats& s = groups[group_of[i]];
        if (s.n < 2) continue;  // a single response has no group baseline: A = 0
        const double centred = rewards[i] - s.mean;
        if (!opt.divide_by_std) {
            adv[i] = centred;
            continue;
        }
        const double std_unbiased = std::sqrt(s.sum_sq_dev / (s.n - 1));
        adv[i] = centred / (std_unbiased + opt.eps);
    }
    return adv;
}

}  // namespace stride

namespace stride {

namespace {

// Members of each group, in order of first appearance.
std::vector<std::vector<size_t>> members_by_group(const std::vector<long>& group_of) {
    std::unordered_map<long, size_t> index;
    std::vector<std::vector<size_t>> out;
    for (size_t i = 0; i < group_of.size(); ++i) {
        auto [it, fresh] = index.try_emplace(group_of[i], out.size());
        if (fresh) out.emplace_back();
        out[it->second].push_back(i);
    }
    return out;
}

double mean_of(const std::vector<double>& v, const std::vector<size_t>& idx) {
    double s = 0;
    for (size_t i : idx) s += v[i];
    return s / static_cast<double>(idx.size());
}

double population_std_of(const std::vector<double>& v, const std::vector<size_t>& idx) {
    const double m = mean_of(v, idx);
    double s = 0;
    for (size_t i : idx) s += (v[i] - m) * (v[i] - m);
    return std::sqrt(s / static_cast<double>(idx.size()));
}

}  // namespace

std::vector<double> rloo_advantages(const std::vector<double>& rewards, const std::vector<long>& group_of) {
    STRIDE_CHECK(rewards.size() == group_of.size(), "rloo_advantages: rewards and group ids differ in size");
    std::vector<double> adv(rewards.size(), 0.0);
    for (const auto& g : members_by_group(group_of)) {
        if (g.size() < 2) continue;
        const double n = static_cast<double>(g.size());
        const double m = mean_of(rewards, g);
        for (size_t i : g) adv[i] = n / (n - 1) * (rewards[i] - m);
    }
    return adv;
}

std::vector<double> whiten(const std::vector<double>& x, double eps) {
    std::vector<double> out(x.size(), 0.0);
    if (x.empty()) return out;
    double m = 0;
    for (double v : x) m += v;
    m /= static_cast<double>(x.size());
    double ss = 0;
    for (double v : x) ss += (v - m) * (v - m);
    const double scale = x.size() < 2 ? 1.0 : 1.0 / std::sqrt(ss / static_cast<double>(x.size() - 1) + eps);
    for (size_t i = 0; i < x.size(); ++i) out[i] = (x[i] - m) * scale;
    return out;
}

std::vector<double> reinforce_pp_advantages(const std::vector<double>& scores,
                                            const std::vector<int>& seq_lens,
                                            const std::vector<double>& kl_penalty, double gamma) {
    STRIDE_CHECK(scores.size() == seq_lens.size(),
                 "reinforce_pp_advantages: scores and seq_lens differ in size");
    size_t total = 0;
    for (int n : seq_lens) total += static_cast<size_t>(n);
    STRIDE_CHECK(kl_penalty.empty() || kl_penalty.size() == total,
                 "reinforce_pp_advantages: kl_penalty must have one value per response token");
    std::vector<double> returns(total, 0.0);
    size_t off = 0;
    for (size_t i = 0; i < seq_lens.size(); ++i) {
        double g = 0;  // the return resets after each sequence's last token
        for (int t = seq_lens[i] - 1; t >= 0; --t) {
            double r = (t == seq_lens[i] - 1) ? scores[i] : 0.0;
            if (!kl_penalty.empty()) r -= kl_penalty[off + t];
            g = r + gamma * g;
            returns[off + t] = g;
        }
        off += seq_lens[i];
    }
    return whiten(returns);
}

std::vector<double> reinforce_pp_baseline_advantages(const std::vector<double>& scores,
                                                     const std::vector<long>& group_of,
                                                     const std::vector<int>& seq_lens) {
    STRIDE_CHECK(scores.size() == group_of.size() && scores.size() == seq_lens.size(),
                 "reinforce_pp_baseline_advantages: per-sample inputs differ in size");
    std::vector<double> centred(scores);
    for (const auto& g : members_by_group(group_of)) {
        if (g.size() < 2) continue;  // mean 0 for a group of one: A = R
        const double m = mean_of(scores, g);
        for (size_t i : g) centred[i] = scores[i] - m;
    }
    std::vector<double> tokens;
    for (size_t i = 0; i < seq_lens.size(); ++i) tokens.insert(tokens.end(), seq_lens[i], centred[i]);
    return whiten(tokens);
}

GroupFilter dynamic_sampling_filter(const std::vector<double>& metric, const std::vector<long>& group_of) {
    STRIDE_CHECK(metric.size() == group_of.size(),
                 "dynamic_sampling_filter: metric and group ids differ in size");
    GroupFilter f;
    f.keep.assign(metric.size(), false);
    for (const auto& g : members_by_group(group_of)) {
        ++f.groups;
        const bool keep = g.size() == 1 || population_std_of(metric, g) > 0.0;
        if (!keep) continue;
        ++f.kept_groups;
        for (size_t i : g) f.keep[i] = true;
    }
    return f;
}

long dynamic_sampling_requests(long missing, long outstanding, long flat_now, double keep_rate,
                               bool oversample) {
    if (missing <= 0) return 0;
    if (!oversample) return std::max(0L, flat_now);
    const double p = std::clamp(keep_rate, kMinKeepRate, 1.0);
    const long expected_needed = static_cast<long>(std::ceil(static_cast<double>(missing) / p - 1e-9));
    return std::max(0L, expected_needed - outstanding);
}

std::vector<double> opob_advantages(const std::vector<double>& rewards, const std::vector<long>& group_of,
                                    const std::vector<double>& grad_sq_norm,
                                    const std::vector<double>& is_weight, bool norm_by_std) {
    const size_t n = rewards.size();
    STRIDE_CHECK(group_of.size() == n && grad_sq_norm.size() == n && is_weight.size() == n,
                 "opob_advantages: per-sample inputs differ in size");
    std::vector<double> adv(n, 0.0);
    for (const auto& g : members_by_group(group_of)) {
        double num = 0, den = 0;
        for (size_t i : g) {
            const double W = grad_sq_norm[i] * is_weight[i] * is_weight[i];
            num += W * rewards[i];
            den += W;
        }
        const double b = num / (den + 1e-8);
        const double sd = population_std_of(rewards, g);
        for (size_t i : g) {
            adv[i] = rewards[i] - b;
            if (norm_by_std && sd > 1e-8) adv[i] /= sd;
        }
    }
    return adv;
}

}  // namespace stride
