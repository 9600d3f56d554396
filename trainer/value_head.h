// The PPO critic's value head: v = w . f + b on a final normed hidden row f of the trunk (the LM head's
// input), a linear hidden -> 1 as verl's critic (AutoModelForTokenClassification, num_labels = 1).
// Parameters live in one flat buffer [H + 1] (weight, then bias) so one AdamW loop and one
// checkpoint tensor cover them. Zero-initialised: every value starts at 0, no seed to carry.
#pragma once

namespace stride {

// v[r] = params[0:H] . f[r, 0:H] + params[H] for r < rows.
void value_head_forward(const float* params, const float* f, int rows, int H, float* v);

// Given d loss / d v[r] (d_v), accumulates g_params[H + 1] += sum_r d_v[r] * [f_r, 1] and, when
// g_f is not null, g_f[r, :] += d_v[r] * w (the gradient that flows into the trunk).
void value_head_backward(const float* params, const float* f, const float* d_v, int rows, int H,
                         float* g_params, float* g_f);

}  // namespace stride
