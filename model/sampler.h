// Token sampler: temperature, top-k, top-p (nucleus), greedy (temperature 0).
//
// Reproducibility: the random number for a draw is a pure function of (seed, stream, step) — a
// counter-based splitmix64 hash, no hidden RNG state — so a sequence samples the same tokens whatever
// else is in the batch, whether it was preempted and recomputed, and in whichever order the batch
// is sampled. The generator uses stream = sample index within the request, step = tokens generated.
//
// Behaviour log-prob (RL): the returned log-prob is log softmax(logits / temperature)[token] over the
// FULL vocabulary, before top-k/top-p truncation. That is exactly what the trainer recomputes with
// Transformer::forward at the same temperature (which has no truncation), so importance ratios start
// at 1. With top-k < V or top-p < 1 the tokens actually come from the truncated distribution, i.e.
// the behaviour policy differs from the one whose log-prob is reported; RL configs therefore keep
// top_k = 0 and top_p = 1 (the defaults). With temperature 0 (greedy) the log-prob is reported
// under temperature 1.
//
// Tested by tests/model/test_sampler.cpp.
#pragma once
#include <cstdint>
#include <vector>

namespace stride {

struct SamplingParams {
    float temperature = 1.0f;  // 0 = greedy (argmax)
    float top_p = 1.0f;        // keep the smallest prefix of tokens (by prob) whose mass reaches top_p
    int top_k = 0;             // 0 = off; else keep the k most likely tokens
    uint64_t seed = 0;

    void validate() const;  // throws Error naming the bad field
};

struct SampledToken {
    int token;
    float logprob;  // log p(token) under softmax(logits / temperature) over all V (see above)
};

// One row of a batch sampled by a Backend's `sample` entry (plain data, so it can live on a device).
struct SampleRequest {
    float temperature;  // 0: greedy
    float top_p;        // 1: off
    int top_k;          // 0: off
    int pad_;
    uint64_t seed;
    uint64_t stream;
    uint64_t step;
};

// Uniform double in [0, 1) from (seed, stream, step); the sampler's only source of randomness.
double sample_uniform(uint64_t seed, uint64_t stream, uint64_t step);

// For each of n requests (host memory): Sampler::sample of row rows[i] of logits[*, V] (rows null: row
// i) with requests[i]. The CPU backend's `sample` entry.
void sample_rows(int* tokens, float* logprobs, const float* logits, const int* rows,
                 const SampleRequest* requests, int n, int V);

class Sampler {
   public:
    explicit Sampler(int vocab);  // scratch for one row of V, allocated once

    // logits[V] of one position. Deterministic in (params, stream, step, logits).
    SampledToken sample(const float* logits, const SamplingParams& params, uint64_t stream, uint64_t step);

   private:
    int vocab_;
    std::vector<float> probs_;  // [V] exp(z - max), then candidate probabilities
    std::vector<int> order_;    // [V] candidate token ids
};

}  // namespace stride
