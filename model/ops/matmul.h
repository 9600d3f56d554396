// Linear layer, nn.Linear layout: out[T, Cout] = inp[T, Cin] . weight[Cout, Cin]^T (+ bias[Cout]).
// CPU: OpenBLAS SGEMM.
#pragma once

namespace stride {

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int T, int Cin,
                    int Cout);
// Accumulates: dinp += dout . weight; dweight += dout^T . inp; dbias += sum_t dout.
// Any of dinp, dweight, dbias may be null (skipped).
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int T, int Cin, int Cout);

}  // namespace stride
