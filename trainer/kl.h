// KL estimators between the policy and a frozen reference, per token (Schulman's k1/k2/k3 with
// verl's clamps), and their derivative with respect to the policy log-prob so the KL can be a loss
// term that back-propagates like the policy loss. ../shared/spec/algorithms.md §0.3.
#pragma once
#include <string>

namespace stride {

enum class KlType {
    k1,  // d = logp - logp_ref: unbiased value, can be negative, high variance
    k2,  // d^2 / 2: its gradient is the unbiased gradient of the reverse KL
    k3,  // exp(-d) + d - 1 (verl low_var_kl): >= 0, unbiased value, low variance
};

KlType kl_type_from_name(const std::string& name);  // k1 | k2 | k3
const char* kl_type_name(KlType k);

struct KlTerm {
    double value = 0;  // the estimate for this token
    double grad = 0;   // d value / d logprob (0 where a clamp is active, as torch.clamp does)
};

// k(logprob, ref_logprob). k3 clamps -d to [-20, 20] before exp and the result to [-10, 10] (verl);
// k1 and k2 are unclamped (verl).
KlTerm kl_estimate(double logprob, double ref_logprob, KlType type);

}  // namespace stride
