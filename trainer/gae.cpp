#include "trainer/gae.h"

#include <algorithm>

#include "common/base/error.h"

namespace stride {

GaeResult gae(const std::vector<double>& rewards, const std::vector<double>& values,
              const std::vector<unsigned char>& mask, double gamma, double lambda) {
    const size_t T = rewards.size();
    STRIDE_CHECK(values.size() == T && (mask.empty() || mask.size() == T),
                 "gae: per-token inputs differ in size");
    GaeResult r;
    r.advantages.assign(T, 0.0);
    r.returns.assign(T, 0.0);
    double v_next = 0, a_next = 0;
    for (size_t k = T; k-- > 0;) {
        const double delta = rewards[k] + gamma * v_next - values[k];
        const double a = delta + gamma * lambda * a_next;
        const bool valid = mask.empty() || mask[k];
        if (!valid) continue;  // chain jumps over the token; its advantage stays 0
        v_next = values[k];
        a_next = a;
        r.advantages[k] = a;
        r.returns[k] = a + values[k];
    }
    return r;
}

ValueLossResult clipped_value_loss(const std::vector<double>& v_new, const std::vector<double>& v_old,
                                   const std::vector<double>& returns, const std::vector<float>& weight,
                                   double clip) {
    const size_t T = v_new.size();
    STRIDE_CHECK(v_old.size() == T && returns.size() == T && weight.size() == T,
                 "clipped_value_loss: per-token inputs differ in size");
    STRIDE_CHECK(clip > 0, "clipped_value_loss: clip must be > 0");
    ValueLossResult r;
    r.grad.assign(T, 0.0);
    for (size_t t = 0; t < T; ++t) {
        const double v_clip = std::clamp(v_new[t], v_old[t] - clip, v_old[t] + clip);
        const double l1 = (v_new[t] - returns[t]) * (v_new[t] - returns[t]);
        const double l2 = (v_clip - returns[t]) * (v_clip - returns[t]);
        const bool use_clipped = l2 > l1;
        r.clipped += use_clipped;
        r.loss += weight[t] * 0.5 * std::max(l1, l2);
        // The clipped branch is constant in v_new where the clamp is active (then l2 > l1 can hold).
        const bool clamp_active = v_clip != v_new[t];
        if (!use_clipped)
            r.grad[t] = weight[t] * (v_new[t] - returns[t]);
        else if (!clamp_active)
            r.grad[t] = weight[t] * (v_clip - returns[t]);
    }
    return r;
}

}  // namespace stride
