// RMSNorm forward and backward on the GPU; same contract as model/ops/rmsnorm.h, device pointers.
#pragma once
#include <cuda_runtime.h>

namespace stride::cuda {

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int T, int C, float eps,
                     cudaStream_t stream = 0);
// residual += x, then out = rmsnorm(residual) (Backend::rmsnorm_residual_forward).
void rmsnorm_residual_forward(float* out, float* rstd, float* residual, const float* x, const float* weight,
                              int T, int C, float eps, cudaStream_t stream = 0);
// Accumulates dinp and dweight, as the CPU version does.
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int T, int C, cudaStream_t stream = 0);

}  // namespace stride::cuda
