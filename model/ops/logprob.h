// LM head fused with per-token log-prob and entropy, computed in chunks of tokens so that no more
// than [chunk, V] logits exist at once (a 64k-token sequence never needs 64k x V floats).
// With z = (h . W^T) / temperature, p = softmax(z):
//   logprob[t] = z[target] - logsumexp(z),  entropy[t] = logsumexp(z) - sum p z.
#pragma once
#include <cstddef>

namespace stride {

// targets[t] < 0: no target (logprob[t] = 0, entropy still computed). logprob/entropy may be null.
// workspace: lm_head_workspace_floats(T, V, chunk) floats for the chunk's logits, or null to use a
// per-thread scratch grown on demand (then that memory is held outside the caller's accounting).
void lm_head_logprob_forward(float* logprob, float* entropy, const float* h, const float* w,
                             const int* targets, int T, int H, int V, float temperature, int chunk,
                             float* workspace = nullptr);
// Accumulates dh[T, H] += ..., dw[V, H] += ... from upstream g_logprob[T], g_entropy[T] (either may be
// null = zero). Recomputes each chunk's logits.
void lm_head_logprob_backward(float* dh, float* dw, const float* g_logprob, const float* g_entropy,
                              const float* h, const float* w, const int* targets, int T, int H, int V,
                              float temperature, int chunk, float* workspace = nullptr);
// Floats of logits workspace the two functions above need: min(chunk, T) * V.
size_t lm_head_workspace_floats(int T, int V, int chunk);

// Logits for a few rows (decode): out[T, V] = h[T, H] . w^T.
void lm_head_logits(float* out, const float* h, const float* w, int T, int H, int V);

}  // namespace stride
