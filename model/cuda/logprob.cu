// Chunked LM head: per chunk one cuBLAS GEMM into the workspace, then one block per row computes
// max, sum exp and sum exp*z (two passes over V, as model/ops/logprob.cpp's row_stats) and writes
// logprob = z[y] - lse, entropy = lse - sum p z. Backward (Liger-style, as the CPU): per chunk the
// logits are recomputed into the same workspace, turned into d(loss)/d(logits) in place
// (lm_head_dlogit, model/ops/math.h), and two GEMMs accumulate dh and dW; only [chunk, V] floats exist.
#include "model/cuda/cuda_check.h"
#include "model/cuda/logprob.h"
#include "model/cuda/matmul.h"
#include "model/cuda/reduce.cuh"
#include "model/ops/math.h"

namespace stride::cuda {

namespace {

constexpr int kThreads = 512;

struct RowStats {
    float lse;      // logsumexp(z)
    float entropy;  // lse - sum p z
};

// Statistics of one row of logits / temperature (z = logits * inv_temp), in two passes over V as
// model/ops/logprob.cpp's row_stats. Called by every thread of the block; every thread gets them.
__device__ RowStats row_stats(const float* logits, int V, float inv_temp) {
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, logits[j] * inv_temp);
    mx = block_reduce_max(mx);
    float sum = 0.0f, sum_ez = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        const float zj = logits[j] * inv_temp;
        const float e = expf(zj - mx);
        sum += e;
        sum_ez += e * zj;
    }
    sum = block_reduce_sum(sum);
    sum_ez = block_reduce_sum(sum_ez);
    const float lse = mx + logf(sum);
    return {lse, lse - sum_ez / sum};
}

// One block per row of the chunk: logprob[t] = z[y] - lse, entropy[t] = lse - sum p z.
__global__ void __launch_bounds__(kThreads)
    row_stats_kernel(float* logprob, float* entropy, const float* logits, const int* targets, int t0, int V,
                     float inv_temp) {
    const int r = blockIdx.x, t = t0 + r;
    const float* z = logits + (size_t)r * V;
    const RowStats st = row_stats(z, V, inv_temp);
    if (threadIdx.x != 0) return;
    const int y = targets ? targets[t] : -1;
    if (logprob) logprob[t] = (y >= 0 && y < V) ? z[y] * inv_temp - st.lse : 0.0f;
    if (entropy) entropy[t] = st.entropy;
}

// One block per row of the chunk: the row's logits become d(loss)/d(logits) in place,
// (lm_head_dlogit + g_lp [j == y]) / temperature. Each thread rewrites only the columns it read.
__global__ void __launch_bounds__(kThreads)
    dlogits_kernel(float* logits, const float* g_logprob, const float* g_entropy, const int* targets, int t0,
                   int V, float inv_temp) {
    const int r = blockIdx.x, t = t0 + r;
    float* z = logits + (size_t)r * V;
    const int y = targets ? targets[t] : -1;
    const bool has_target = y >= 0 && y < V;
    const float g_lp = (g_logprob && has_target) ? g_logprob[t] : 0.0f;
    const float g_H = g_entropy ? g_entropy[t] : 0.0f;
    if (g_lp == 0.0f && g_H == 0.0f) {  // the row contributes nothing (e.g. a sequence's last token)
        for (int j = threadIdx.x; j < V; j += blockDim.x) z[j] = 0.0f;
        return;  // the whole block returns: the condition is the row's
    }
    const RowStats st = row_stats(z, V, inv_temp);
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        const float logp = z[j] * inv_temp - st.lse;
        const float dz = lm_head_dlogit(expf(logp), logp, st.entropy, g_lp, g_H) + (j == y ? g_lp : 0.0f);
        z[j] = dz * inv_temp;
    }
}

// The CPU's argument checks that need no device memory (targets live on the device here).
void check_head_args(const char* fn, float temperature, int chunk, const float* workspace, int T) {
    STRIDE_CHECK(temperature > 0.0f,
                 std::string(fn) + ": temperature must be > 0, got " + std::to_string(temperature));
    STRIDE_CHECK(chunk > 0, std::string(fn) + ": logprob chunk must be > 0, got " + std::to_string(chunk));
    STRIDE_CHECK(workspace != nullptr || T == 0, std::string(fn) + ": the workspace is required on the GPU");
}

}  // namespace

void lm_head_logits(Context& ctx, float* out, const float* h, const float* w, int T, int H, int V) {
    matmul_forward(ctx, out, h, w, nullptr, T, H, V);
}

void lm_head_logprob_forward(Context& ctx, float* logprob, float* entropy, const float* h, const float* w,
                             const int* targets, int T, int H, int V, float temperature, int chunk,
                             float* workspace) {
    check_head_args("cuda lm_head_logprob_forward", temperature, chunk, workspace, T);
    const int c = chunk < T ? chunk : T;
    const float inv_temp = 1.0f / temperature;
    for (int t0 = 0; t0 < T; t0 += c) {
        const int n = t0 + c < T ? c : T - t0;
        lm_head_logits(ctx, workspace, h + (size_t)t0 * H, w, n, H, V);
        row_stats_kernel<<<n, kThreads, 0, ctx.stream>>>(logprob, entropy, workspace, targets, t0, V,
                                                         inv_temp);
        STRIDE_CUDA_LAUNCH_CHECK();
    }
}

void lm_head_logprob_backward(Context& ctx, float* dh, float* dw, const float* g_logprob,
                              const float* g_entropy, const float* h, const float* w, const int* targets,
                              int T, int H, int V, float temperature, int chunk, float* workspace) {
    check_head_args("cuda lm_head_logprob_backward", temperature, chunk, workspace, T);
    const int c = chunk < T ? chunk : T;
    const float inv_temp = 1.0f / temperature;
    for (int t0 = 0; t0 < T; t0 += c) {
        const int n = t0 + c < T ? c : T - t0;
        const float* hc = h + (size_t)t0 * H;  // [n, H]
        lm_head_logits(ctx, workspace, hc, w, n, H, V);
        dlogits_kernel<<<n, kThreads, 0, ctx.stream>>>(workspace, g_logprob, g_entropy, targets, t0, V,
                                                       inv_temp);
        STRIDE_CUDA_LAUNCH_CHECK();
        // dh[chunk] += dlogits[n, V] . W[V, H];  dW[V, H] += dlogits^T . h[chunk]: the projection's backward.
        matmul_backward(ctx, dh ? dh + (size_t)t0 * H : nullptr, dw, nullptr, workspace, hc, w, n, H, V);
    }
}

}  // namespace stride::cuda
