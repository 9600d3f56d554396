// RMSNorm forward and backward on the GPU; same contract as model/ops/rmsnorm.h, device pointers.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

namespace stride::cuda {

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int T, int C, float eps,
                     cudaStream_t stream = 0);
// residual += x, then out = rmsnorm(residual) (Backend::rmsnorm_residual_forward).
void rmsnorm_residual_forward(float* out, float* rstd, float* residual, const float* x, const float* weight,
                              int T, int C, float eps, cudaStream_t stream = 0);
// Accumulates dinp and dweight (may be null), as the CPU version does. Deterministic (no atomics):
// dweight is reduced through `scratch`, rmsnorm_backward_scratch_floats(T, C) floats on the device.
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int T, int C, float* scratch, cudaStream_t stream = 0);
size_t rmsnorm_backward_scratch_floats(int T, int C);

}  // namespace stride::cuda
