#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/base/error.h"

namespace stride {

void SamplingParams::validate() const {
    STRIDE_CHECK(temperature >= 0.0f && std::isfinite(temperature),
                 "sampling: temperature must be >= 0, got " + std::to_string(temperature));
    STRIDE_CHECK(top_p > 0.0f && top_p <= 1.0f,
                 "sampling: top_p must be in (0, 1], got " + std::to_string(top_p));
    STRIDE_CHECK(top_k >= 0, "sampling: top_k must be >= 0 (0 = off), got " + std::to_string(top_k));
}

// splitmix64 finaliser (Steele et al.): a bijective mix, good enough to turn counters into bits.
static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

double sample_uniform(uint64_t seed, uint64_t stream, uint64_t step) {
    uint64_t h = splitmix64(seed);
    h = splitmix64(h ^ stream);
    h = splitmix64(h ^ step);
    return static_cast<double>(h >> 11) * 0x1.0p-53;  // top 53 bits -> [0, 1)
}

Sampler::Sampler(int vocab) : vocab_(vocab), probs_(vocab), order_(vocab) {
    STRIDE_CHECK(vocab > 0, "Sampler: vocab must be positive");
}

SampledToken Sampler::sample(const float* logits, const SamplingParams& params, uint64_t stream,
                             uint64_t step) {
    const int V = vocab_;
    const bool greedy = params.temperature == 0.0f;
    const float inv_t = greedy ? 1.0f : 1.0f / params.temperature;

    // z = logits / T; probs_ = exp(z - max) unnormalised, sum in double for a stable log-sum-exp.
    float zmax = -INFINITY;
    int argmax = 0;
    for (int i = 0; i < V; ++i) {
        float z = logits[i] * inv_t;
        if (z > zmax) zmax = z, argmax = i;  // first index wins ties
    }
    STRIDE_CHECK(std::isfinite(zmax), "sampler: logits are not finite (NaN or all -inf)");
    double sum = 0.0;
    for (int i = 0; i < V; ++i) {
        probs_[i] = expf(logits[i] * inv_t - zmax);
        sum += probs_[i];
    }
    const float lse = zmax + static_cast<float>(std::log(sum));
    auto result = [&](int tok) { return SampledToken{tok, logits[tok] * inv_t - lse}; };
    if (greedy) return result(argmax);

    const double u = sample_uniform(params.seed, stream, step);
    const bool use_top_k = params.top_k > 0 && params.top_k < V;
    const bool use_top_p = params.top_p < 1.0f;

    if (!use_top_k && !use_top_p) {
        // Inverse CDF over the full distribution, in token-id order.
        double target = u * sum, cum = 0.0;
        int last_nonzero = argmax;
        for (int i = 0; i < V; ++i) {
            if (probs_[i] == 0.0f) continue;
            cum += probs_[i];
            last_nonzero = i;
            if (cum > target) return result(i);
        }
        return result(last_nonzero);  // u * sum rounded above the final cumulative sum
    }

    // Truncated: candidates sorted by probability (descending, lower id first on ties), HF order:
    // temperature -> top-k -> top-p, top-p measured on the top-k-renormalised distribution.
    for (int i = 0; i < V; ++i) order_[i] = i;
    auto more_likely = [&](int a, int b) {
        return probs_[a] > probs_[b] || (probs_[a] == probs_[b] && a < b);
    };
    int n = V;
    if (use_top_k) {
        n = params.top_k;
        std::nth_element(order_.begin(), order_.begin() + (n - 1), order_.end(), more_likely);
    }
    std::sort(order_.begin(), order_.begin() + n, more_likely);
    double mass = 0.0;
    for (int i = 0; i < n; ++i) mass += probs_[order_[i]];
    if (use_top_p) {
        // Keep the smallest prefix whose mass reaches top_p (the token crossing the line is kept).
        double cum = 0.0, line = static_cast<double>(params.top_p) * mass;
        int keep = n;
        for (int i = 0; i < n; ++i) {
            cum += probs_[order_[i]];
            if (cum >= line) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
        mass = 0.0;
        for (int i = 0; i < n; ++i) mass += probs_[order_[i]];
    }
    double target = u * mass, cum = 0.0;
    for (int i = 0; i < n; ++i) {
        cum += probs_[order_[i]];
        if (cum > target) return result(order_[i]);
    }
    return result(order_[n - 1]);
}

}  // namespace stride
