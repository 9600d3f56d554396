// RMSNorm on the GPU: one block per row, block reductions. Same arithmetic as model/ops/rmsnorm.cpp
// (fp32; out = weight * (x * rstd)). The backward's weight gradient is a deterministic two-stage
// column reduction (no atomics). Checked against it by tests/model/test_backend_ops.cpp and
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

// dinp_i += r * w_i * g_i - x_i * r^3 / C * sum_j(g_j * w_j * x_j). One block per row.
__global__ void rmsnorm_backward_kernel(float* dinp, const float* dout, const float* inp, const float* weight,
                                        const float* rstd, int C) {
    const size_t row = blockIdx.x;
    const float* x = inp + row * C;
    const float* g = dout + row * C;
    float* dx = dinp + row * C;
    const float r = rstd[row];
    float dot = 0.0f;
    for (int i = threadIdx.x; i < C; i += blockDim.x) dot += g[i] * weight[i] * x[i];
    dot = block_reduce_sum(dot);
    const float k = dot * r * r * r / C;
    for (int i = threadIdx.x; i < C; i += blockDim.x) dx[i] += r * weight[i] * g[i] - x[i] * k;
}

// dweight[c] = sum_t dout[t, c] x[t, c] rstd[t] as a column reduction in two deterministic stages
// (llm.c's layernorm backward idea, without atomics): stage 1, block (column block of 32, row
// chunk) writes partial[chunk, c]; stage 2 adds the chunks in order. One atomic per (row, column)
// instead would serialise: Qwen3's q/k norm has T * heads rows over only head_dim columns.
constexpr int kColumns = 32;  // columns per stage-1 block (one per lane: coalesced rows)
constexpr int kRowLanes = 8;  // rows walked in parallel by a stage-1 block
constexpr int kMinChunkRows = 16;
constexpr int kTargetBlocks = 528;  // about 4 blocks per SM of an H100 (132 SMs)

struct DweightSplit {
    int column_blocks, chunks, chunk_rows;
};

DweightSplit dweight_split(int T, int C) {
    const int column_blocks = ceil_div(C, kColumns);
    int chunks = ceil_div(kTargetBlocks, column_blocks);
    const int max_chunks = ceil_div(T, kMinChunkRows);
    if (chunks > max_chunks) chunks = max_chunks;
    const int chunk_rows = ceil_div(T, chunks);
    return {column_blocks, ceil_div(T, chunk_rows), chunk_rows};
}

__global__ void dweight_partial_kernel(float* partial, const float* dout, const float* inp, const float* rstd,
                                       int T, int C, int chunk_rows) {
    __shared__ float sums[kRowLanes][kColumns];
    const int c = blockIdx.x * kColumns + threadIdx.x;
    const int t0 = blockIdx.y * chunk_rows, t1 = min(t0 + chunk_rows, T);
    float acc = 0.0f;
    if (c < C)
        for (int t = t0 + threadIdx.y; t < t1; t += kRowLanes)
            acc += dout[(size_t)t * C + c] * inp[(size_t)t * C + c] * rstd[t];
    sums[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y != 0 || c >= C) return;
    for (int y = 1; y < kRowLanes; ++y) acc += sums[y][threadIdx.x];
    partial[(size_t)blockIdx.y * C + c] = acc;
}

__global__ void dweight_sum_kernel(float* dweight, const float* partial, int C, int chunks) {
    const int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float s = 0.0f;
    for (int k = 0; k < chunks; ++k) s += partial[(size_t)k * C + c];
    dweight[c] += s;
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

size_t rmsnorm_backward_scratch_floats(int T, int C) {
    if (T <= 0 || C <= 0) return 0;
    const DweightSplit sp = dweight_split(T, C);
    return (size_t)sp.chunks * C;
}

void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int T, int C, float* scratch, cudaStream_t stream) {
    if (T == 0) return;
    rmsnorm_backward_kernel<<<T, kThreads, 0, stream>>>(dinp, dout, inp, weight, rstd, C);
    STRIDE_CUDA_LAUNCH_CHECK();
    if (!dweight) return;
    STRIDE_CHECK(scratch != nullptr, "cuda rmsnorm_backward: the dweight scratch is required");
    const DweightSplit sp = dweight_split(T, C);
    dweight_partial_kernel<<<dim3(sp.column_blocks, sp.chunks), dim3(kColumns, kRowLanes), 0, stream>>>(
        scratch, dout, inp, rstd, T, C, sp.chunk_rows);
    STRIDE_CUDA_LAUNCH_CHECK();
    dweight_sum_kernel<<<ceil_div(C, 256), 256, 0, stream>>>(dweight, scratch, C, sp.chunks);
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace stride::cuda
