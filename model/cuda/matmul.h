// Projections on the GPU through cuBLAS, nn.Linear layout, same contract as model/ops/matmul.h
// (device pointers): out[T, Cout] = inp[T, Cin] . weight[Cout, Cin]^T (+ bias). fp32 storage; the
// context's MatmulPrecision picks fp32 or bf16-rounded inputs with fp32 accumulation.
#pragma once
#include "model/cuda/context.h"

namespace stride::cuda {

void matmul_forward(Context& ctx, float* out, const float* inp, const float* weight, const float* bias, int T,
                    int Cin, int Cout);
// Accumulates dinp += dout . weight, dweight += dout^T . inp, dbias += column sums (any may be null).
void matmul_backward(Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int T, int Cin, int Cout);

}  // namespace stride::cuda
