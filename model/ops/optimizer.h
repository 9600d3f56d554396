// The optimizer's ops over flat buffers (llm.c's adamw.cuh, plus the pieces of gradient clipping):
// one AdamW step, the squared L2 norm in fixed blocks, and an in-place scale. CPU reference of the
// Backend entries of the same names (model/backend.h); the CUDA twins are model/cuda/adamw.cu.
#pragma once
#include <cstddef>

namespace stride {

// The scalars of one AdamW step: the learning rate, the config's betas, eps and weight decay, and the
// bias corrections bc1 = 1 - beta1^t, bc2 = 1 - beta2^t (computed once per step on the host).
struct AdamWStep {
    float lr, beta1, beta2, eps, weight_decay, bc1, bc2;
};

// One AdamW step: params, m, v [n] updated in place from grads [n] by adamw_update (model/ops/math.h) per
// element.
void adamw_step(float* params, const float* grads, float* m, float* v, size_t n, const AdamWStep& s);

// The sum of squares of x [n] in kSumSquaresBlocks blocks: block b is x[b*n/B .. (b+1)*n/B), summed
// in double into partials[b]. The caller adds the partials in order, so the total does not depend on
// the thread count (nor, between the CPU and a device, on anything but each block's order).
constexpr int kSumSquaresBlocks = 256;
void sum_squares(double* partials, const float* x, size_t n);

// x[i] *= factor (gradient clipping).
void scale(float* x, float factor, size_t n);

}  // namespace stride
