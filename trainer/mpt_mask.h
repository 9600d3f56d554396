// UloRL's dynamic masking of well-mastered positive tokens (../shared/spec/algorithms.md §8.3): a
// token of a positive-advantage response whose probability is already >= tau is masked (no loss,
// still in the denominator) while the entropy is below the target sigma, so training stops pushing
// mastered tokens toward probability 1, which is what collapses entropy.
#pragma once
#include <vector>

namespace stride {

struct MptOptions {
    double prob_threshold = 0.99;  // tau
    double entropy_target = 0.2;   // sigma
    // false: gate on each response's mean token entropy (the paper's equation); true: gate on the
    // batch entropy, the mean over responses of their mean token entropy (the paper's text).
    bool batch_gate = false;
};

// Per-token mask in the flat response order (1 = masked). logprob and entropy are of the policy at
// the start of the step; seq_advantage[i] > 0 marks a positive response (reward 1 in the paper).
std::vector<unsigned char> mastered_positive_token_mask(const std::vector<float>& logprob,
                                                        const std::vector<float>& entropy,
                                                        const std::vector<int>& seq_lens,
                                                        const std::vector<double>& seq_advantage,
                                                        const MptOptions& opt);

}  // namespace stride
