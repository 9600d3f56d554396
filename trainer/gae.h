// PPO critic pieces as pure functions (../shared/spec/algorithms.md §1.2, §1.4): GAE over one padded
// response with masked tokens skipped, and the clipped value loss. Used by RlTrainer's ppo path
// (AdvantageKind::gae) with the critic of trainer/critic.h.
#pragma once
#include <vector>

namespace stride {

struct GaeResult {
    std::vector<double> advantages;  // un-whitened A_t (0 on masked tokens)
    std::vector<double> returns;     // R_t = A_t + V_t, the value target
};

// Backward in t with V_next = 0 and A_next = 0 after the last position (no bootstrap of truncated
// responses, as verl). A masked token (mask 0) leaves V_next and A_next unchanged: the TD chain jumps
// over tool/observation tokens. mask empty: every token is valid.
GaeResult gae(const std::vector<double>& rewards, const std::vector<double>& values,
              const std::vector<unsigned char>& mask, double gamma, double lambda);

struct ValueLossResult {
    double loss = 0;           // sum_t w_t * 0.5 * max((v - R)^2, (clip(v) - R)^2)
    long clipped = 0;          // tokens where the clipped branch is strictly larger (vf_clipfrac)
    std::vector<double> grad;  // d loss / d v_new per token
};

// Clipped value loss: v_clip = clamp(v_new, v_old - clip, v_old + clip); weights are the aggregation
// weights (as for the policy loss).
ValueLossResult clipped_value_loss(const std::vector<double>& v_new, const std::vector<double>& v_old,
                                   const std::vector<double>& returns, const std::vector<float>& weight,
                                   double clip);

}  // namespace stride
