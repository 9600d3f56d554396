#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "common/base/error.h"
#include "model/ops/math.h"

namespace stride {

void SamplingParams::validate() const {
    STRIDE_CHECK(temperature >= 0.0f && std::isfinite(temperature),
                 "sampling: temperature must be >= 0, got " + std::to_string(temperature));
    STRIDE_CHECK(top_p > 0.0f && top_p <= 1.0f,
                 "sampling: top_p must be in (0, 1], got " + std::to_string(top_p));
    STRIDE_CHECK(top_k >= 0, "sampling: top_k must be >= 0 (0 = off), got " + std::to_string(top_k));
}

double sample_uniform(uint64_t seed, uint64_t stream, uint64_t step) {
    return counter_uniform(seed, stream, step);
}

void sample_rows(int* tokens, float* logprobs, const float* logits, const int* rows,
                 const SampleRequest* requests, int n, int V) {
    thread_local std::unique_ptr<Sampler> sampler;
    thread_local int sampler_vocab = 0;
    if (!sampler || sampler_vocab != V) sampler = std::make_unique<Sampler>(V), sampler_vocab = V;
    for (int i = 0; i < n; ++i) {
        const SampleRequest& r = requests[i];
        SamplingParams p;
        p.temperature = r.temperature, p.top_p = r.top_p, p.top_k = r.top_k, p.seed = r.seed;
        const size_t row = rows ? static_cast<size_t>(rows[i]) : static_cast<size_t>(i);
        const SampledToken s = sampler->sample(logits + row * V, p, r.stream, r.step);
        tokens[i] = s.token;
        logprobs[i] = s.logprob;
    }
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
