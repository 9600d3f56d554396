// The optimizer on the GPU (llm.c's adamw.cuh): grid-stride loops over the flat buffers, the
// per-element AdamW math shared with the CPU (adamw_update, model/ops/math.h). Checked against the
// CPU backend by tests/model/test_backend_ops.cpp.
#include "model/cuda/adamw.h"
#include "model/cuda/cuda_check.h"
#include "model/ops/math.h"

namespace stride::cuda {

namespace {

constexpr int kThreads = 256;

int grid_for(size_t n) {
    const size_t blocks = (n + kThreads - 1) / kThreads;
    return static_cast<int>(blocks < 65535 * 32 ? (blocks ? blocks : 1) : 65535 * 32);
}

__global__ void adamw_kernel(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m,
                             float* __restrict__ v, size_t n, AdamWStep s) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float pi = p[i], mi = m[i], vi = v[i];
        adamw_update(pi, g[i], mi, vi, s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.bc1, s.bc2);
        p[i] = pi, m[i] = mi, v[i] = vi;
    }
}

// One block per partial, as the CPU's: block b sums x[b*n/B, (b+1)*n/B) in double, then a shared-
// memory tree (the order differs from the CPU's sequential loop: equal within double rounding).
__global__ void sum_squares_kernel(double* partials, const float* __restrict__ x, size_t n) {
    __shared__ double buf[kThreads];
    const size_t b = blockIdx.x;
    const size_t begin = n * b / kSumSquaresBlocks, end = n * (b + 1) / kSumSquaresBlocks;
    double sum = 0.0;
    for (size_t i = begin + threadIdx.x; i < end; i += blockDim.x) sum += (double)x[i] * x[i];
    buf[threadIdx.x] = sum;
    __syncthreads();
    for (int half = kThreads / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) buf[threadIdx.x] += buf[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) partials[b] = buf[0];
}

__global__ void scale_kernel(float* x, float factor, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        x[i] *= factor;
}

}  // namespace

void adamw_step(float* params, const float* grads, float* m, float* v, size_t n, const AdamWStep& s,
                cudaStream_t stream) {
    if (n == 0) return;
    adamw_kernel<<<grid_for(n), kThreads, 0, stream>>>(params, grads, m, v, n, s);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void sum_squares(double* partials, const float* x, size_t n, cudaStream_t stream) {
    sum_squares_kernel<<<kSumSquaresBlocks, kThreads, 0, stream>>>(partials, x, n);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void scale(float* x, float factor, size_t n, cudaStream_t stream) {
    if (n == 0) return;
    scale_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, factor, n);
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace stride::cuda
