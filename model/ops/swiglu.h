// SwiGLU: out = silu(gate) * up, elementwise over N values.
#pragma once
#include <cstddef>

namespace stride {

void swiglu_forward(float* out, const float* gate, const float* up, size_t N);
// Assigns: dgate = dout * up * silu'(gate); dup = dout * silu(gate).
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                     size_t N);

}  // namespace stride
