// Rotary position embedding on the GPU (HF rotate-half), in place on x[T, nh, D]; same contract as
// model/ops/rope.h with device pointers (pos[T], inv_freq[D/2]). Qwen3's q/k norm runs before it as
// an RMSNorm over rows of D (model/cuda/rmsnorm.h), exactly as on the CPU.
#pragma once
#include <cuda_runtime.h>

namespace stride::cuda {

void rope_forward(float* x, const int* pos, const float* inv_freq, int T, int nh, int D, cudaStream_t stream);
void rope_backward(float* dx, const int* pos, const float* inv_freq, int T, int nh, int D,
                   cudaStream_t stream);

}  // namespace stride::cuda
