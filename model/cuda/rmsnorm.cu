// RMSNorm on the GPU: one block per row, warp-shuffle reductions. Checked against
// model/ops/rmsnorm.cpp by tests/cuda/test_rmsnorm_cuda.cpp.
#include "model/cuda/cuda_check.h"
#include "model/cuda/rmsnorm.h"

namespace stride::cuda {

namespace {

constexpr int kThreads = 256;

__device__ float block_sum(float v) {
    __shared__ float partial[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    v = (threadIdx.x < blockDim.x / 32) ? partial[threadIdx.x] : 0.0f;
    if (warp == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    __shared__ float total;
    if (threadIdx.x == 0) total = v;
    __syncthreads();
    return total;
}

__global__ void rmsnorm_forward_kernel(float* out, float* rstd, const float* inp, const float* weight, int C,
                                       float eps) {
    const float* x = inp + static_cast<size_t>(blockIdx.x) * C;
    float* y = out + static_cast<size_t>(blockIdx.x) * C;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) ss += x[i] * x[i];
    const float r = rsqrtf(block_sum(ss) / C + eps);
    for (int i = threadIdx.x; i < C; i += blockDim.x) y[i] = x[i] * r * weight[i];
    if (rstd && threadIdx.x == 0) rstd[blockIdx.x] = r;
}

// dinp_i = r * w_i * g_i - x_i * r^3 / C * sum_j(g_j * w_j * x_j)
__global__ void rmsnorm_backward_kernel(float* dinp, float* dweight, const float* dout, const float* inp,
                                        const float* weight, const float* rstd, int C) {
    const size_t row = blockIdx.x;
    const float* x = inp + row * C;
    const float* g = dout + row * C;
    float* dx = dinp + row * C;
    const float r = rstd[row];
    float dot = 0.0f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) dot += g[i] * weight[i] * x[i];
    dot = block_sum(dot);
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
    rmsnorm_forward_kernel<<<T, kThreads, 0, stream>>>(out, rstd, inp, weight, C, eps);
    STRIDE_CUDA_CHECK(cudaGetLastError());
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int T, int C, cudaStream_t stream) {
    if (T == 0) return;
    rmsnorm_backward_kernel<<<T, kThreads, 0, stream>>>(dinp, dweight, dout, inp, weight, rstd, C);
    STRIDE_CUDA_CHECK(cudaGetLastError());
}

}  // namespace stride::cuda
