// bf16 weights on the GPU. The GEMM is cublasGemmEx with A and B in CUDA_R_16BF, C in CUDA_R_32F and
// CUBLAS_COMPUTE_32F (cuBLAS picks a cuBLASLt kernel for it): the same column-major transposition as
// model/cuda/matmul.cu. Per-element rounding is model/ops/math.h's bf16_from_float, the CPU's.
#include "model/cuda/bf16_weights.h"
#include "model/cuda/cuda_check.h"
#include "model/cuda/reduce.cuh"
#include "model/ops/math.h"

namespace stride::cuda {

namespace {

constexpr int kThreads = 256;

int grid_for(size_t n) {
    const size_t blocks = (n + kThreads - 1) / kThreads;
    return static_cast<int>(blocks < 65535 * 32 ? blocks : 65535 * 32);
}

__global__ void cast_kernel(uint16_t* dst, const float* src, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = bf16_from_float(src[i]);
}

__global__ void fill_rows_kernel(float* out, const float* bias, int T, int C) {
    const size_t n = (size_t)T * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = bias[i % C];
}

__global__ void embedding_bf16_kernel(float* out, const int* tokens, const uint16_t* table, int T, int H,
                                      int V) {
    const size_t n = (size_t)T * H;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const int t = static_cast<int>(i / H), h = static_cast<int>(i % H);
        const int id = tokens[t];
        out[i] = (id >= 0 && id < V) ? float_from_bf16(table[(size_t)id * H + h]) : 0.0f;
    }
}

}  // namespace

void cast_to_bf16(uint16_t* dst, const float* src, size_t n, cudaStream_t stream) {
    if (n == 0) return;
    cast_kernel<<<grid_for(n), kThreads, 0, stream>>>(dst, src, n);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void embedding_forward_bf16(float* out, const int* tokens, const uint16_t* table, int T, int H, int V,
                            cudaStream_t stream) {
    const size_t n = (size_t)T * H;
    if (n == 0) return;
    embedding_bf16_kernel<<<grid_for(n), kThreads, 0, stream>>>(out, tokens, table, T, H, V);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void matmul_forward_bf16(Context& ctx, float* out, const float* inp, const uint16_t* weight,
                         const float* bias, int T, int Cin, int Cout) {
    if (T == 0 || Cout == 0) return;
    const size_t n_in = (size_t)T * Cin;
    auto* x16 = static_cast<uint16_t*>(workspace_at_least(n_in * sizeof(uint16_t)));
    cast_to_bf16(x16, inp, n_in, ctx.stream);
    float beta = 0.0f;
    if (bias) {
        const size_t n = (size_t)T * Cout;
        fill_rows_kernel<<<grid_for(n), kThreads, 0, ctx.stream>>>(out, bias, T, Cout);
        STRIDE_CUDA_LAUNCH_CHECK();
        beta = 1.0f;
    }
    const float alpha = 1.0f;
    // out^T[Cout, T] = W[Cout, Cin] (col-major [Cin, Cout], transposed) . x^T[Cin, T]
    STRIDE_CUBLAS_CHECK(cublasGemmEx(ctx.blas, CUBLAS_OP_T, CUBLAS_OP_N, Cout, T, Cin, &alpha, weight,
                                     CUDA_R_16BF, Cin, x16, CUDA_R_16BF, Cin, &beta, out, CUDA_R_32F, Cout,
                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace stride::cuda
