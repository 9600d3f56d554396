// LM head on the GPU: logits for a few rows (decode) and the chunked log-prob/entropy head (scoring),
// same contracts as model/ops/logprob.h with device pointers. lm_head_logprob_forward needs its
// workspace (lm_head_workspace_floats floats); only [chunk, V] logits exist at once, forward and backward.
#pragma once
#include "model/cuda/context.h"

namespace stride::cuda {

void lm_head_logits(Context& ctx, float* out, const float* h, const float* w, int T, int H, int V);
void lm_head_logprob_forward(Context& ctx, float* logprob, float* entropy, const float* h, const float* w,
                             const int* targets, int T, int H, int V, float temperature, int chunk,
                             float* workspace);
// Accumulates dh[T, H] and dw[V, H] (either may be null) from g_logprob[T], g_entropy[T] (either may be
// null = zero), recomputing each chunk's logits in the workspace (required, as for the forward).
void lm_head_logprob_backward(Context& ctx, float* dh, float* dw, const float* g_logprob,
                              const float* g_entropy, const float* h, const float* w, const int* targets,
                              int T, int H, int V, float temperature, int chunk, float* workspace);

}  // namespace stride::cuda
