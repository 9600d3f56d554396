// RMSNorm over rows of C: out = x * rsqrt(mean(x^2) + eps) * weight.
#pragma once

namespace stride {

// rstd[T] receives the per-row reciprocal RMS for the backward pass (may be null).
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int T, int C,
                     float eps);
// Accumulates: dinp += ..., dweight += ... (dweight may be null).
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int T, int C);

}  // namespace stride
