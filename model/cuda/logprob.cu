// Chunked LM head: per chunk one cuBLAS GEMM into the workspace, then one block per row computes
// max, sum exp and sum exp*z (two passes over V, as model/ops/logprob.cpp's row_stats) and writes
// logprob = z[y] - lse, entropy = lse - sum p z.
#include "model/cuda/cuda_check.h"
#include "model/cuda/logprob.h"
#include "model/cuda/matmul.h"
#include "model/cuda/reduce.cuh"

namespace stride::cuda {

namespace {

constexpr int kThreads = 512;

__global__ void __launch_bounds__(kThreads)
    row_stats_kernel(float* logprob, float* entropy, const float* logits, const int* targets, int t0, int V,
                     float inv_temp) {
    const int r = blockIdx.x, t = t0 + r;
    const float* z = logits + (size_t)r * V;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, z[j] * inv_temp);
    mx = block_reduce_max(mx);
    float sum = 0.0f, sum_ez = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        const float zj = z[j] * inv_temp;
        const float e = expf(zj - mx);
        sum += e;
        sum_ez += e * zj;
    }
    sum = block_reduce_sum(sum);
    sum_ez = block_reduce_sum(sum_ez);
    if (threadIdx.x != 0) return;
    const float lse = mx + logf(sum);
    const int y = targets ? targets[t] : -1;
    if (logprob) logprob[t] = (y >= 0 && y < V) ? z[y] * inv_temp - lse : 0.0f;
    if (entropy) entropy[t] = lse - sum_ez / sum;
}

}  // namespace

void lm_head_logits(Context& ctx, float* out, const float* h, const float* w, int T, int H, int V) {
    matmul_forward(ctx, out, h, w, nullptr, T, H, V);
}

void lm_head_logprob_forward(Context& ctx, float* logprob, float* entropy, const float* h, const float* w,
                             const int* targets, int T, int H, int V, float temperature, int chunk,
                             float* workspace) {
    const int c = chunk < T ? chunk : T;
    if (c <= 0) return;
    STRIDE_CHECK(workspace != nullptr, "cuda lm_head_logprob_forward: the workspace is required on the GPU");
    const float inv_temp = 1.0f / temperature;
    for (int t0 = 0; t0 < T; t0 += c) {
        const int n = t0 + c < T ? c : T - t0;
        lm_head_logits(ctx, workspace, h + (size_t)t0 * H, w, n, H, V);
        row_stats_kernel<<<n, kThreads, 0, ctx.stream>>>(logprob, entropy, workspace, targets, t0, V,
                                                         inv_temp);
        STRIDE_CUDA_LAUNCH_CHECK();
    }
}

}  // namespace stride::cuda
