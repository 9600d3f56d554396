#include "trainer/kl.h"

#include <algorithm>
#include <cmath>

#include "common/base/error.h"

namespace stride {

KlType kl_type_from_name(const std::string& n) {
    if (n == "k1") return KlType::k1;
    if (n == "k2") return KlType::k2;
    if (n == "k3") return KlType::k3;
    throw Error("unknown KL estimator '" + n + "' (k1, k2, k3)");
}

const char* kl_type_name(KlType k) {
    switch (k) {
        case KlType::k1:
            return "k1";
        case KlType::k2:
            return "k2";
        case KlType::k3:
            return "k3";
    }
    return "?";
}

KlTerm kl_estimate(double logprob, double ref_logprob, KlType type) {
    const double d = logprob - ref_logprob;
    switch (type) {
        case KlType::k1:
            return {d, 1.0};
        case KlType::k2:
            return {0.5 * d * d, d};
        case KlType::k3: {
            // verl: kl = clamp(ref - logp, -20, 20); kld = exp(kl) - kl - 1; clamp(kld, -10, 10).
            const double neg_d = ref_logprob - logprob;
            const double kl = std::clamp(neg_d, -20.0, 20.0);
            const bool kl_clamped = kl != neg_d;
            const double e = std::exp(kl);
            const double kld = e - kl - 1.0;
            const double value = std::clamp(kld, -10.0, 10.0);
            // d kld / d logprob = (e - 1) * d kl / d logprob = (e - 1) * (-1) = 1 - e, unless clamped.
            const double grad = (kl_clamped || value != kld) ? 0.0 : 1.0 - e;
            return {value, grad};
        }
    }
    return {};
}

}  // namespace stride
