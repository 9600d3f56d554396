#include "trainer/advantage.h"

#include <cmath>
#include <unordered_map>

#include "common/base/error.h"

namespace stride {

std::vector<double> group_advantages(const std::vector<double>& rewards, const std::vector<long>& group_of,
                                     const GroupAdvantageOptions& opt) {
    STRIDE_CHECK(rewards.size() == group_of.size(), "group_advantages: rewards and group ids differ in size");
    struct Stats {
        double sum = 0, sum_sq_dev = 0, mean = 0;
        int n = 0;
    };
    std::unordered_map<long, Stats> groups;
    for (size_t i = 0; i < rewards.size(); ++i) {
        Stats& s = groups[group_of[i]];
        s.sum += rewards[i];
        s.n += 1;
    }
    for (auto& [id, s] : groups) s.mean = s.sum / s.n;
    // Two passes (mean first) so that rewards such as [1, 1, 1, 1 - 1e-3] keep their precision.
    for (size_t i = 0; i < rewards.size(); ++i) {
        Stats& s = groups[group_of[i]];
        const double d = rewards[i] - s.mean;
        s.sum_sq_dev += d * d;
    }
    std::vector<double> adv(rewards.size(), 0.0);
    for (size_t i = 0; i < rewards.size(); ++i) {
        const Stats& s = groups[group_of[i]];
        if (s.n < 2) continue;  // a single response has no group baseline: A = 0
        const double centred = rewards[i] - s.mean;
        if (!opt.divide_by_std) {
            adv[i] = centred;
            continue;
        }
        const double std_unbiased = std::sqrt(s.sum_sq_dev / (s.n - 1));
        adv[i] = centred / (std_unbiased + opt.eps);
    }
    return adv;
}

}  // namespace stride
