// Linear layer forward/backward through OpenBLAS SGEMM. All T tokens go through one GEMM so BLAS
// sees large, well-shaped problems (the whole point of packing a batch into one row).
#include "model/ops/matmul.h"

#include <cblas.h>

namespace stride {

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int T, int Cin,
                    int Cout) {
    // out[T, Cout] = inp[T, Cin] . weight[Cout, Cin]^T (+ bias): seed rows with the bias, then beta = 1.
    float beta = 0.0f;
    if (bias) {
#pragma omp parallel for
        for (int t = 0; t < T; ++t) {
            float* o = out + (size_t)t * Cout;
#pragma omp simd
            for (int c = 0; c < Cout; ++c) o[c] = bias[c];
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, Cout, Cin, 1.0f, inp, Cin, weight, Cin, beta, out,
                Cout);
}

void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int T, int Cin, int Cout) {
    // dinp[T, Cin] += dout[T, Cout] . weight[Cout, Cin]
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, Cin, Cout, 1.0f, dout, Cout, weight, Cin,
                    1.0f, dinp, Cin);
    // dweight[Cout, Cin] += dout^T . inp
    if (dweight)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Cout, Cin, T, 1.0f, dout, Cout, inp, Cin, 1.0f,
                    dweight, Cin);
    if (dbias) {
        // Column sums. Each thread owns a block of columns and walks all rows: no reduction races,
        // contiguous inner loop, same result for any thread count.
        const int block = 64;
        const int nblocks = (Cout + block - 1) / block;
#pragma omp parallel for
        for (int b = 0; b < nblocks; ++b) {
            const int c0 = b * block, c1 = c0 + block < Cout ? c0 + block : Cout;
            for (int t = 0; t < T; ++t) {
                const float* g = dout + (size_t)t * Cout;
#pragma omp simd
                for (int c = c0; c < c1; ++c) dbias[c] += g[c];
            }
        }
    }
}

}  // namespace stride
