#include "trainer/vcpo.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/base/error.h"

namespace stride {

namespace {

double log_sum_exp(const std::vector<double>& x, double scale) {
    double m = -std::numeric_limits<double>::infinity();
    for (double v : x) m = std::max(m, scale * v);
    if (!std::isfinite(m)) return m;
    double s = 0;
    for (double v : x) s += std::exp(scale * v - m);
    return m + std::log(s);
}

}  // namespace

double ess_from_log_weights(const std::vector<double>& log_w) {
    for (double v : log_w)
        STRIDE_CHECK(!std::isnan(v) && v != std::numeric_limits<double>::infinity(),
                     "ess_from_log_weights: log-weights must be finite or -inf");
    const double lse1 = log_sum_exp(log_w, 1.0);
    if (!std::isfinite(lse1)) return 0.0;  // no weights, or all weights 0
    return std::exp(2.0 * lse1 - log_sum_exp(log_w, 2.0));
}

EssLrScaling ess_lr_scaling_from_name(const std::string& n) {
    if (n == "off") return EssLrScaling::off;
    if (n == "sqrt") return EssLrScaling::sqrt;
    if (n == "linear") return EssLrScaling::linear;
    throw Error("unknown ESS learning-rate scaling '" + n + "' (off, sqrt, linear)");
}

double ess_lr_factor(double ess_fraction, EssLrScaling scaling, double rho_base) {
    STRIDE_CHECK(rho_base > 0, "ess_lr_factor: rho_base must be > 0");
    const double x = std::clamp(ess_fraction / rho_base, 0.0, 1.0);
    switch (scaling) {
        case EssLrScaling::off:
            return 1.0;
        case EssLrScaling::sqrt:
            return std::sqrt(x);
        case EssLrScaling::linear:
            return x;
    }
    return 1.0;
}

}  // namespace stride
