// Elementwise kernels on the GPU, same contracts as their CPU twins (device pointers):
// embedding gather/scatter (model/ops/embedding.h), SwiGLU (model/ops/swiglu.h), the residual add.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

namespace stride::cuda {

// y[i] += x[i].
void add_inplace(float* y, const float* x, size_t n, cudaStream_t stream);
// out[T, H] = table[tokens[t]]. The caller validates the ids on the host (a kernel cannot throw); an
// id outside [0, V) writes a row of zeros instead of reading out of bounds.
void embedding_forward(float* out, const int* tokens, const float* table, int T, int H, int V,
                       cudaStream_t stream);
// dtable[tokens[t]] += dout[t] (atomic: repeated tokens hit the same row).
void embedding_backward(float* dtable, const float* dout, const int* tokens, int T, int H,
                        cudaStream_t stream);
void swiglu_forward(float* out, const float* gate, const float* up, size_t N, cudaStream_t stream);
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                     size_t N, cudaStream_t stream);

}  // namespace stride::cuda
