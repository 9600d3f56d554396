// Sampler: reproducibility from (seed, stream, step), greedy, behaviour log-probs over the full
// temperature-scaled distribution, and temperature / top-k / top-p checked statistically on a fixed
// distribution (frequencies within 5 standard deviations of the expected probabilities).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/base/error.h"
#include "model/sampler.h"

namespace stride {
namespace {

// p = [0.5, 0.25, 0.125, 0.0625, 0.0625]; logits = log p + 3 (a shift must not matter).
std::vector<float> fixed_logits() {
    std::vector<float> p = {0.5f, 0.25f, 0.125f, 0.0625f, 0.0625f};
    std::vector<float> z;
    for (float x : p) z.push_back(std::log(x) + 3.0f);
    return z;
}

std::vector<double> frequencies(const SamplingParams& sp, int draws, uint64_t stream = 7) {
    std::vector<float> z = fixed_logits();
    Sampler sampler(static_cast<int>(z.size()));
    std::vector<double> f(z.size(), 0.0);
    for (int i = 0; i < draws; ++i) f[sampler.sample(z.data(), sp, stream, i).token] += 1.0 / draws;
    return f;
}

void expect_distribution(const std::vector<double>& freq, const std::vector<double>& expected, int draws) {
    ASSERT_EQ(freq.size(), expected.size());
    for (size_t i = 0; i < freq.size(); ++i) {
        double sd = std::sqrt(expected[i] * (1 - expected[i]) / draws);
        EXPECT_NEAR(freq[i], expected[i], 5 * sd + 1e-12) << "token " << i;
    }
}

TEST(Sampler, UniformIsDeterministicAndSpreads) {
    EXPECT_EQ(sample_uniform(1, 2, 3), sample_uniform(1, 2, 3));
    EXPECT_NE(sample_uniform(1, 2, 3), sample_uniform(1, 2, 4));
    EXPECT_NE(sample_uniform(1, 2, 3), sample_uniform(1, 3, 3));
    EXPECT_NE(sample_uniform(1, 2, 3), sample_uniform(2, 2, 3));
    double mean = 0;
    const int n = 100000;
    for (int i = 0; i < n; ++i) {
        double u = sample_uniform(42, 0, i);
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
        mean += u / n;
    }
    EXPECT_NEAR(mean, 0.5, 0.005);
}

TEST(Sampler, SameKeySameTokenRegardlessOfOrder) {
    std::vector<float> z(1000);
    for (int i = 0; i < 1000; ++i) z[i] = std::sin(i * 0.37f) * 3;
    SamplingParams sp;
    sp.seed = 1234;
    Sampler a(1000), b(1000);
    std::vector<int> forward_order, reverse_order(50);
    for (int step = 0; step < 50; ++step) forward_order.push_back(a.sample(z.data(), sp, 3, step).token);
    for (int step = 49; step >= 0; --step) reverse_order[step] = b.sample(z.data(), sp, 3, step).token;
    EXPECT_EQ(forward_order, reverse_order);
    // Another stream (another sample of the same prompt) draws differently.
    int differ = 0;
    for (int step = 0; step < 50; ++step)
        differ += a.sample(z.data(), sp, 4, step).token != forward_order[step];
    EXPECT_GT(differ, 25);
}

TEST(Sampler, GreedyPicksArgmaxWithTemperatureOneLogprob) {
    std::vector<float> z = {0.1f, 2.0f, -1.0f, 2.0f, 0.5f};
    SamplingParams sp;
    sp.temperature = 0.0f;
    Sampler s(5);
    double lse = 0;
    for (float x : z) lse += std::exp(x);
    lse = std::log(lse);
    for (int step = 0; step < 10; ++step) {
        SampledToken t = s.sample(z.data(), sp, 0, step);
        EXPECT_EQ(t.token, 1);  // first of the tied maxima
        EXPECT_NEAR(t.logprob, 2.0 - lse, 1e-6);
    }
}

TEST(Sampler, LogprobIsOfTheFullTemperatureScaledDistribution) {
    std::vector<float> z = fixed_logits();
    Sampler s(5);
    for (float temp : {1.0f, 0.7f, 1.5f}) {
        double lse = 0;
        for (float x : z) lse += std::exp(x / temp);
        lse = std::log(lse);
        for (int top_k : {0, 2}) {
            SamplingParams sp;
            sp.temperature = temp;
            sp.top_k = top_k;
            sp.top_p = top_k ? 0.9f : 1.0f;
            for (int step = 0; step < 20; ++step) {
                SampledToken t = s.sample(z.data(), sp, 1, step);
                EXPECT_NEAR(t.logprob, z[t.token] / temp - lse, 1e-5) << "T " << temp << " top_k " << top_k;
            }
        }
    }
}

constexpr int kDraws = 40000;

TEST(Sampler, TemperatureOneMatchesSoftmax) {
    expect_distribution(frequencies({}, kDraws), {0.5, 0.25, 0.125, 0.0625, 0.0625}, kDraws);
}

TEST(Sampler, TemperatureFlattensAndSharpens) {
    SamplingParams hot;
    hot.temperature = 2.0f;  // p^(1/2) renormalised
    std::vector<double> e = {std::sqrt(0.5), std::sqrt(0.25), std::sqrt(0.125), 0.25, 0.25};
    double sum = 0;
    for (double x : e) sum += x;
    for (double& x : e) x /= sum;
    expect_distribution(frequencies(hot, kDraws), e, kDraws);

    SamplingParams cold;
    cold.temperature = 0.5f;  // p^2 renormalised
    e = {0.25, 0.0625, 0.015625, 0.00390625, 0.00390625};
    sum = 0;
    for (double x : e) sum += x;
    for (double& x : e) x /= sum;
    expect_distribution(frequencies(cold, kDraws), e, kDraws);
}

TEST(Sampler, TopKKeepsTheKMostLikely) {
    SamplingParams sp;
    sp.top_k = 2;
    expect_distribution(frequencies(sp, kDraws), {2.0 / 3, 1.0 / 3, 0, 0, 0}, kDraws);
    sp.top_k = 1;
    expect_distribution(frequencies(sp, 1000), {1, 0, 0, 0, 0}, 1000);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
    SamplingParams sp;
    sp.top_p = 0.7f;  // 0.5 < 0.7 <= 0.75: tokens {0, 1}
    expect_distribution(frequencies(sp, kDraws), {2.0 / 3, 1.0 / 3, 0, 0, 0}, kDraws);
    sp.top_p = 0.5f;  // 0.5 reaches 0.5: token 0 only
    expect_distribution(frequencies(sp, 1000), {1, 0, 0, 0, 0}, 1000);
    sp.top_p = 0.8f;  // {0, 1, 2}
    expect_distribution(frequencies(sp, kDraws), {0.5 / 0.875, 0.25 / 0.875, 0.125 / 0.875, 0, 0}, kDraws);
}

TEST(Sampler, TopPAppliesAfterTopK) {
    SamplingParams sp;
    sp.top_k = 3;     // renormalised: 0.571, 0.286, 0.143
    sp.top_p = 0.6f;  // 0.571 < 0.6 <= 0.857: tokens {0, 1}
    expect_distribution(frequencies(sp, kDraws), {2.0 / 3, 1.0 / 3, 0, 0, 0}, kDraws);
}

TEST(Sampler, BadParamsAndLogitsThrow) {
    SamplingParams sp;
    sp.temperature = -1.0f;
    EXPECT_THROW(sp.validate(), Error);
    sp = {};
    sp.top_p = 0.0f;
    EXPECT_THROW(sp.validate(), Error);
    sp = {};
    sp.top_k = -2;
    EXPECT_THROW(sp.validate(), Error);
    std::vector<float> nan_logits = {NAN, NAN};
    Sampler s(2);
    EXPECT_THROW(s.sample(nan_logits.data(), SamplingParams{}, 0, 0), Error);
}

}  // namespace
}  // namespace stride
