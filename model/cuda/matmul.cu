// cuBLAS is column-major: a row-major [R, C] matrix is its column-major [C, R] transpose, so
// out^T[Cout, T] = W^T... is computed as gemm(op(W) = T, op(inp) = N) exactly as llm.c's
// matmul_forward_cublas. Bias: rows seeded with it, then beta = 1 (as the CPU does).
#include "model/cuda/cuda_check.h"
#include "model/cuda/matmul.h"
#include "model/cuda/reduce.cuh"

namespace stride::cuda {

namespace {

__global__ void fill_rows_kernel(float* out, const float* bias, int T, int C) {
    const size_t n = (size_t)T * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = bias[i % C];
}

// dbias[c] += sum_t dout[t, c]: one thread per column (T is a batch of tokens, coalesced across c).
__global__ void column_sum_kernel(float* dbias, const float* dout, int T, int C) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float s = 0.0f;
    for (int t = 0; t < T; ++t) s += dout[(size_t)t * C + c];
    dbias[c] += s;
}

cublasComputeType_t compute_type(const Context& ctx) {
    return ctx.precision == MatmulPrecision::bf16 ? CUBLAS_COMPUTE_32F_FAST_16BF : CUBLAS_COMPUTE_32F;
}

// C[m, n] (column-major) = alpha * op(A) op(B) + beta * C, all fp32 storage.
void gemm(Context& ctx, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* A,
          int lda, const float* B, int ldb, float beta, float* C, int ldc) {
    const float alpha = 1.0f;
    STRIDE_CUBLAS_CHECK(cublasGemmEx(ctx.blas, ta, tb, m, n, k, &alpha, A, CUDA_R_32F, lda, B, CUDA_R_32F,
                                     ldb, &beta, C, CUDA_R_32F, ldc, compute_type(ctx), CUBLAS_GEMM_DEFAULT));
}

}  // namespace

void matmul_forward(Context& ctx, float* out, const float* inp, const float* weight, const float* bias, int T,
                    int Cin, int Cout) {
    if (T == 0 || Cout == 0) return;
    float beta = 0.0f;
    if (bias) {
        const size_t n = (size_t)T * Cout;
        fill_rows_kernel<<<ceil_div(n, 256) < 65535 * 16 ? ceil_div(n, 256) : 65535 * 16, 256, 0,
                           ctx.stream>>>(out, bias, T, Cout);
        STRIDE_CUDA_LAUNCH_CHECK();
        beta = 1.0f;
    }
    // out^T[Cout, T] = W[Cout, Cin] (row-major = col-major [Cin, Cout], transposed) . inp^T[Cin, T]
    gemm(ctx, CUBLAS_OP_T, CUBLAS_OP_N, Cout, T, Cin, weight, Cin, inp, Cin, beta, out, Cout);
}

void matmul_backward(Context& ctx, float* dinp, float* dweight, float* dbias, const float* dout,
                     const float* inp, const float* weight, int T, int Cin, int Cout) {
    if (T == 0) return;
    // dinp^T[Cin, T] += W^T[Cin, Cout] . dout^T[Cout, T]
    if (dinp) gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_N, Cin, T, Cout, weight, Cin, dout, Cout, 1.0f, dinp, Cin);
    // dW^T[Cin, Cout] += inp^T[Cin, T] . dout[T, Cout]
    if (dweight) gemm(ctx, CUBLAS_OP_N, CUBLAS_OP_T, Cin, Cout, T, inp, Cin, dout, Cout, 1.0f, dweight, Cin);
    if (dbias) {
        column_sum_kernel<<<ceil_div(Cout, 256), 256, 0, ctx.stream>>>(dbias, dout, T, Cout);
        STRIDE_CUDA_LAUNCH_CHECK();
    }
}

}  // namespace stride::cuda
