// VCPO (../shared/spec/algorithms.md §7): effective sample size of sequence-level importance weights
// and the learning-rate scale it implies for one optimiser step. The closed-form baseline (OPOB) is
// opob_advantages in advantage.h.
#pragma once
#include <string>
#include <vector>

namespace stride {

// ESS = (sum w)^2 / sum w^2 from log w_i (w_i = prod_t pi/mu of sequence i), computed with a
// log-sum-exp shift so that long sequences cannot overflow: exp(2 LSE(log w) - LSE(2 log w)).
// -inf log-weights are weights of 0; all zero gives ESS 0.
double ess_from_log_weights(const std::vector<double>& log_w);

enum class EssLrScaling { off, sqrt, linear };
EssLrScaling ess_lr_scaling_from_name(const std::string& name);  // off | sqrt | linear

// lr multiplier min(1, rho_ess / rho_base)^p, p = 1/2 (sqrt, VCPO default: Adam-type optimisers) or 1.
double ess_lr_factor(double ess_fraction, EssLrScaling scaling, double rho_base = 1.0);

}  // namespace stride
