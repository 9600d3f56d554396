// The bf16-weight ops on the GPU (contracts of model/ops/bf16_weights.h, device pointers): projections
// through cuBLAS with bf16 inputs and fp32 accumulation, the embedding gather from a bf16 table, and
// the fp32 -> bf16 cast that fills the weights. Checked against the CPU by test_backend_ops.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "model/cuda/context.h"

namespace stride::cuda {

// The activation rows are rounded to bf16 into the context's workspace first (T * Cin halves).
void matmul_forward_bf16(Context& ctx, float* out, const float* inp, const uint16_t* weight,
                         const float* bias, int T, int Cin, int Cout);
// An id outside [0, V) writes a row of zeros (the caller validates ids on the host).
void embedding_forward_bf16(float* out, const int* tokens, const uint16_t* table, int T, int H, int V,
                            cudaStream_t stream);
void cast_to_bf16(uint16_t* dst, const float* src, size_t n, cudaStream_t stream);

}  // namespace stride::cuda
