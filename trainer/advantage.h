// Outcome-reward advantage estimators: one scalar per response, broadcast to its tokens by the loss.
// Formulas and edge cases: ../shared/spec/algorithms.md §2 (GRPO, Dr.GRPO).
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

}  // namespace stride
