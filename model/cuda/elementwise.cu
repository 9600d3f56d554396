// Elementwise kernels: grid-stride loops, per-element math from model/ops/math.h. Checked against the
// CPU backend by tests/model/test_backend_ops.cpp.
#include "model/cuda/cuda_check.h"
#include "model/cuda/elementwise.h"
#include "model/cuda/reduce.cuh"
#include "model/ops/math.h"

namespace stride::cuda {

namespace {

constexpr int kThreads = 256;

int grid_for(size_t n) {
    const size_t blocks = (n + kThreads - 1) / kThreads;
    return static_cast<int>(blocks < 65535 * 32 ? blocks : 65535 * 32);
}

__global__ void add_kernel(float* y, const float* x, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

__global__ void embedding_forward_kernel(float* out, const int* tokens, const float* table, int T, int H,
                                         int V) {
    const size_t n = (size_t)T * H;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const int t = static_cast<int>(i / H), h = static_cast<int>(i % H);
        const int id = tokens[t];
        out[i] = (id >= 0 && id < V) ? table[(size_t)id * H + h] : 0.0f;
    }
}

__global__ void embedding_backward_kernel(float* dtable, const float* dout, const int* tokens, int T, int H) {
    const size_t n = (size_t)T * H;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const int t = static_cast<int>(i / H), h = static_cast<int>(i % H);
        atomicAdd(&dtable[(size_t)tokens[t] * H + h], dout[i]);
    }
}

__global__ void swiglu_forward_kernel(float* out, const float* gate, const float* up, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        out[i] = silu(gate[i]) * up[i];
}

__global__ void swiglu_backward_kernel(float* dgate, float* dup, const float* dout, const float* gate,
                                       const float* up, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float g = gate[i];
        dgate[i] = dout[i] * up[i] * silu_grad(g);
        dup[i] = dout[i] * silu(g);
    }
}

}  // namespace

void add_inplace(float* y, const float* x, size_t n, cudaStream_t stream) {
    if (n == 0) return;
    add_kernel<<<grid_for(n), kThreads, 0, stream>>>(y, x, n);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void embedding_forward(float* out, const int* tokens, const float* table, int T, int H, int V,
                       cudaStream_t stream) {
    if (T == 0) return;
    embedding_forward_kernel<<<grid_for((size_t)T * H), kThreads, 0, stream>>>(out, tokens, table, T, H, V);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void embedding_backward(float* dtable, const float* dout, const int* tokens, int T, int H,
                        cudaStream_t stream) {
    if (T == 0) return;
    embedding_backward_kernel<<<grid_for((size_t)T * H), kThreads, 0, stream>>>(dtable, dout, tokens, T, H);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void swiglu_forward(float* out, const float* gate, const float* up, size_t N, cudaStream_t stream) {
    if (N == 0) return;
    swiglu_forward_kernel<<<grid_for(N), kThreads, 0, stream>>>(out, gate, up, N);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                     size_t N, cudaStream_t stream) {
    if (N == 0) return;
    swiglu_backward_kernel<<<grid_for(N), kThreads, 0, stream>>>(dgate, dup, dout, gate, up, N);
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace stride::cuda
