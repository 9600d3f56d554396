// The optimizer's kernels (model/ops/optimizer.h on the GPU): a fused AdamW step over the flat fp32
// master weights and fp32 moments (one read of p, g, m, v and one write of p, m, v per element), the
// blocked sum of squares of gradient clipping and an in-place scale. Device pointers, stream order.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "model/ops/optimizer.h"

namespace stride::cuda {

void adamw_step(float* params, const float* grads, float* m, float* v, size_t n, const AdamWStep& s,
                cudaStream_t stream);
// partials[kSumSquaresBlocks] (device doubles), the blocks of stride::sum_squares.
void sum_squares(double* partials, const float* x, size_t n, cudaStream_t stream);
void scale(float* x, float factor, size_t n, cudaStream_t stream);

}  // namespace stride::cuda
