#include "trainer/importance.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/base/error.h"

namespace stride {

IsCorrection is_correction_from_name(const std::string& n) {
    if (n == "none") return IsCorrection::none;
    if (n == "truncate" || n == "tis") return IsCorrection::truncate;
    if (n == "mask" || n == "decoupled" || n == "icepop") return IsCorrection::mask;
    throw Error("unknown importance correction '" + n + "' (none, truncate, mask)");
}

IsLevel is_level_from_name(const std::string& n) {
    if (n == "token") return IsLevel::token;
    if (n == "sequence") return IsLevel::sequence;
    throw Error("unknown importance weight level '" + n + "' (token, sequence)");
}

namespace {

double safe_log_ratio(float a, float b) {
    const double d = static_cast<double>(a) - b;
    if (std::isnan(d)) return 0.0;  // -inf - -inf: both policies agree the token is impossible
    return std::clamp(d, -20.0, 20.0);
}

// One weight for the whole response [0, n): log rho = sum_t log rho_t, bounds compared in log space.
IsStats sequence_importance_weight(const float* prox_logprob, const float* behav_logprob, int n,
                                   const IsOptions& opt, float* out) {
    IsStats s;
    s.tokens = n;
    if (n == 0) return s;
    double w = 1.0;
    if (opt.mode != IsCorrection::none) {
        double log_rho = 0;
        for (int t = 0; t < n; ++t) log_rho += safe_log_ratio(prox_logprob[t], behav_logprob[t]);
        const double log_cap = std::log(opt.cap);
        const double log_low = opt.low > 0 ? std::log(opt.low) : -std::numeric_limits<double>::infinity();
        // Same 1e-6 relative tolerance on the bounds as the token level (log(1 + 1e-6) ~ 1e-6).
        const bool above = log_rho > log_cap + 1e-6, below = log_rho < log_low - 1e-6;
        if (opt.mode == IsCorrection::truncate) {
            w = std::exp(std::clamp(log_rho, log_low, log_cap));  // exp(-inf) = 0: no lower bound
            if (above || below) s.truncated = n;
        } else {
            w = above || below ? 0.0 : std::exp(log_rho);
            if (above || below) s.rejected = n;
        }
    }
    std::fill(out, out + n, static_cast<float>(w));
    s.sum = n * w;
    s.sum_sq = n * w * w;
    return s;
}

}  // namespace

IsStats importance_weights(const float* prox_logprob, const float* behav_logprob, int n, const IsOptions& opt,
                           float* out) {
    STRIDE_CHECK(opt.mode == IsCorrection::none || (opt.cap > 0 && opt.low >= 0 && opt.low <= opt.cap),
                 "importance_weights: needs 0 <= low <= cap and cap > 0");
    if (opt.level == IsLevel::sequence)
        return sequence_importance_weight(prox_logprob, behav_logprob, n, opt, out);
    IsStats s;
    s.tokens = n;
    for (int t = 0; t < n; ++t) {
        double w = 1.0;
        if (opt.mode != IsCorrection::none) {
            const double rho = std::exp(safe_log_ratio(prox_logprob[t], behav_logprob[t]));
            // Bounds are inclusive; fp32 log-probs carry ~1e-7 relative error, so a ratio that is on
            // a bound up to 1e-6 counts as on it (icepop's [0.5, 2] keeps rho = 0.5).
            const bool outside = rho > opt.cap * (1 + 1e-6) || rho < opt.low * (1 - 1e-6);
            if (opt.mode == IsCorrection::truncate) {
                w = std::clamp(rho, opt.low, opt.cap);
                s.truncated += outside;
            } else {
                w = outside ? 0.0 : rho;
                s.rejected += outside;
            }
        }
        out[t] = static_cast<float>(w);
        s.sum += w;
        s.sum_sq += w * w;
    }
    return s;
}

double token_ess_fraction(const std::vector<float>& w) {
    if (w.empty()) return 0.0;
    double sum = 0, sum_sq = 0;
    for (float x : w) sum += x, sum_sq += static_cast<double>(x) * x;
    if (sum_sq <= 0) return 0.0;
    // 1 / mean((w / m)^2) = m^2 / mean(w^2) = (sum w)^2 / (n * sum w^2)
    return sum * sum / (static_cast<double>(w.size()) * sum_sq);
}

double sequence_log_ratio(const float* a, const float* b, int n) {
    double s = 0;
    for (int t = 0; t < n; ++t) {
        const double d = static_cast<double>(a[t]) - b[t];
        if (std::isfinite(d)) s += d;
    }
    return s;
}

}  // namespace stride
