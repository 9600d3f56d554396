// RMSNorm on the GPU: one block per row, block reductions. Same arithmetic as model/ops/rmsnorm.cpp
// (fp32; out = weight * (x * rstd)). Checked against it by tests/model/test_backend_ops.cpp and
// tests/cuda/test_rmsnorm_cuda.cpp.
#include "model/cuda/cuda_check.h"
#include "model/cuda/reduce.cuh"
#include "model/cuda/rmsnorm.h"

namespace stride::cuda {

namespace {

constexpr int kThreads = 256;

// With residual != null: residual += x first, and the sum is what gets normed (fused residual add).
__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* inp, float* residual,
                                       const float* x_add, const float* weight, int C, float eps) {
    const size_t row = blockIdx.x;
    float* y = out + row * C;
    const float* x = inp + row * C;
    if (residual) {
        float* r = residual + row * C;
        const float* a = x_add + row * C;
        for (int i = threadIdx.x; i < C; i += blockDim.x) r[i] += a[i];
        x = r;  // each thread re-reads only the elements it wrote: no barrier needed
    }
    float ss = 0.0f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) ss += x[i] * x[i];
    const float r = 1.0f / sqrtf(block_reduce_sum(ss) / (float)C + eps);
    for (int i = threadIdx.x; i < C; i += blockDim.x) y[i] = weight[i] * (x[i] * r);
    if (rstd && threadIdx.x == 0) rstd[row] = r;
}

// dinp_i += r * w_i * g_i - x_i * r^3 / C * sum_j(g_j * w_j * x_j)
__global__ void rmsnorm_backward_kernel(float* dinp, float* dweight, const float* dout, const float* inp,
                                        const float* weight, const float* rstd, int C) {
    const size_t row = blockIdx.x;
    const float* x = inp + row * C;
    const float* g = dout + row * C;
    float* dx = dinp + row * C;
    const float r = rstd[row];
    float dot = 0.0f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) dot += g[i] * weight[i] * x[i];
    dot = block_reduce_sum(dot);
    const float k = dot * r * r * r / C;
    for (int i = threadIdx.x; i < C; i += blockDim.x) {
        dx[i] += r * weight[i] * g[i] - x[i] * k;
        if (dweight) atomicAdd(&dweight[i], g[i] * x[i] * r);
    }
}

}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int T, int C, float eps,
                     cudaStream_t stream) {
    if (T == 0) return;
    rmsnorm_forward_kernel<<<T, kThreads, 0, stream>>>(out, rstd, inp, nullptr, nullptr, weight, C, eps);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void rmsnorm_residual_forward(float* out, float* rstd, float* residual, const float* x, const float* weight,
                              int T, int C, float eps, cudaStream_t stream) {
    if (T == 0) return;
    rmsnorm_forward_kernel<<<T, kThreads, 0, stream>>>(out, rstd, residual, residual, x, weight, C, eps);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int T, int C, cudaStream_t stream) {
    if (T == 0) return;
    rmsnorm_backward_kernel<<<T, kThreads, 0, stream>>>(dinp, dweight, dout, inp, weight, rstd, C);
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace stride::cuda
