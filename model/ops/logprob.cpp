// LM head fused with per-token log-prob and entropy, chunked over tokens (Liger-style): only a
// [chunk, V] logits block ever exists. Backward recomputes each chunk's logits from h instead of
// keeping them. Math (z = logits / temperature, p = softmax(z), lse = logsumexp(z)):
//   logprob = z[y] - lse,  H = lse - sum p z,
//   dz = g_lp (onehot(y) - p) + g_H (-p (log p + H)),  dlogits = dz / temperature.
#include "model/ops/logprob.h"

#include <cblas.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/ops/math.h"
#include "model/ops/vec_exp.h"

namespace stride {

namespace {

// [chunk, V] logits scratch of the calling thread, grown once and reused (no allocation per step).
float* logits_scratch(size_t n) {
    thread_local std::vector<float> buf;
    if (buf.size() < n) buf.resize(n);
    return buf.data();
}

struct RowStats {
    float lse;      // logsumexp(z)
    float entropy;  // lse - sum p z
};

// z = row * inv_temp in place, then lse and entropy in two passes over V.
inline RowStats row_stats(float* z, int V, float inv_temp) {
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < V; ++j) {
        z[j] *= inv_temp;
        mx = z[j] > mx ? z[j] : mx;
    }
    float sum = 0.0f, sum_ez = 0.0f;
#pragma omp simd reduction(+ : sum, sum_ez)
    for (int j = 0; j < V; ++j) {
        const float e = vec_expf(z[j] - mx);
        sum += e;
        sum_ez += e * z[j];
    }
    const float lse = mx + logf(sum);
    return {lse, lse - sum_ez / sum};
}

void check_args(const int* targets, int T, int V, float temperature, int chunk) {
    STRIDE_CHECK(temperature > 0.0f, "lm_head: temperature must be > 0, got " + std::to_string(temperature));
    STRIDE_CHECK(chunk > 0, "lm_head: logprob chunk must be > 0, got " + std::to_string(chunk));
    for (int t = 0; t < T; ++t)
        STRIDE_CHECK(targets == nullptr || targets[t] < V,
                     "lm_head: target " + std::to_string(targets[t]) + " at position " + std::to_string(t) +
                         " is outside the vocabulary [0, " + std::to_string(V) + ")");
}

}  // namespace

size_t lm_head_workspace_floats(int T, int V, int chunk) {
    return (size_t)(chunk < T ? chunk : T) * V;
}

void lm_head_logits(float* out, const float* h, const float* w, int T, int H, int V) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, V, H, 1.0f, h, H, w, H, 0.0f, out, V);
}

void lm_head_logprob_forward(float* logprob, float* entropy, const float* h, const float* w,
                             const int* targets, int T, int H, int V, float temperature, int chunk,
                             float* workspace) {
    check_args(targets, T, V, temperature, chunk);
    const int c = chunk < T ? chunk : T;
    if (c == 0) return;
    float* logits = workspace ? workspace : logits_scratch((size_t)c * V);  // [c, V]
    const float inv_temp = 1.0f / temperature;
    for (int t0 = 0; t0 < T; t0 += c) {
        const int n = t0 + c < T ? c : T - t0;
        lm_head_logits(logits, h + (size_t)t0 * H, w, n, H, V);
#pragma omp parallel for
        for (int r = 0; r < n; ++r) {
            float* z = logits + (size_t)r * V;
            const RowStats st = row_stats(z, V, inv_temp);
            const int t = t0 + r;
            const int y = targets ? targets[t] : -1;
            if (logprob) logprob[t] = y >= 0 ? z[y] - st.lse : 0.0f;
            if (entropy) entropy[t] = st.entropy;
        }
    }
}

void lm_head_logprob_backward(float* dh, float* dw, const float* g_logprob, const float* g_entropy,
                              const float* h, const float* w, const int* targets, int T, int H, int V,
                              float temperature, int chunk, float* workspace) {
    check_args(targets, T, V, temperature, chunk);
    const int c = chunk < T ? chunk : T;
    if (c == 0) return;
    float* logits = workspace ? workspace : logits_scratch((size_t)c * V);  // [c, V], becomes dlogits
    const float inv_temp = 1.0f / temperature;
    for (int t0 = 0; t0 < T; t0 += c) {
        const int n = t0 + c < T ? c : T - t0;
        lm_head_logits(logits, h + (size_t)t0 * H, w, n, H, V);
#pragma omp parallel for
        for (int r = 0; r < n; ++r) {
            float* z = logits + (size_t)r * V;
            const int t = t0 + r;
            const int y = targets ? targets[t] : -1;
            const float g_lp = (g_logprob && y >= 0) ? g_logprob[t] : 0.0f;
            const float g_H = g_entropy ? g_entropy[t] : 0.0f;
            if (g_lp == 0.0f && g_H == 0.0f) {  // row contributes nothing (e.g. last token of a sequence)
#pragma omp simd
                for (int j = 0; j < V; ++j) z[j] = 0.0f;
                continue;
            }
            const RowStats st = row_stats(z, V, inv_temp);
            // dz_j = -p_j (g_lp + g_H (log p_j + H)) + g_lp [j == y]; dlogits = dz / temperature.
#pragma omp simd
            for (int j = 0; j < V; ++j) {
                const float logp = z[j] - st.lse;
                const float p = vec_expf(logp);
                z[j] = lm_head_dlogit(p, logp, st.entropy, g_lp, g_H) * inv_temp;
            }
            if (y >= 0) z[y] += g_lp * inv_temp;
        }
        // dh[chunk] += dlogits . W ; dW += dlogits^T . h[chunk]
        if (dh)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, H, V, 1.0f, logits, V, w, H, 1.0f,
                        dh + (size_t)t0 * H, H);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, V, H, n, 1.0f, logits, V, h + (size_t)t0 * H,
                        H, 1.0f, dw, H);
    }
}

}  // namespace stride
