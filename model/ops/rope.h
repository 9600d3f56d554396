// Rotary position embedding, HF rotate-half layout, applied in place to [T, nh, D].
#pragma once
#include <vector>

#include "model/config.h"

namespace stride {

// inv_freq[D/2] from rope_theta and rope_scaling (default, linear, llama3), computed as HF does.
std::vector<float> rope_inv_freq(const ModelConfig& cfg);

// x[T, nh, D] rotated in place; pos[T] is each token's position id.
void rope_forward(float* x, const int* pos, const float* inv_freq, int T, int nh, int D);
// dx[T, nh, D] in place: gradient w.r.t. the pre-rotation input.
void rope_backward(float* dx, const int* pos, const float* inv_freq, int T, int nh, int D);

}  // namespace stride
