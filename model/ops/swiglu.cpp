// SwiGLU elementwise: out = silu(gate) * up. Same formulas as silu / silu_grad in model/ops/math.h
// (which the CUDA kernels use), with the exp from vec_exp.h so the CPU loops vectorise instead of
// calling libm once per element.
#include "model/ops/swiglu.h"

#include "model/ops/vec_exp.h"

namespace stride {

void swiglu_forward(float* out, const float* gate, const float* up, size_t N) {
    const long n = (long)N;
#pragma omp parallel for simd
    for (long i = 0; i < n; ++i) {
        const float g = gate[i];
        out[i] = g / (1.0f + vec_expf(-g)) * up[i];
    }
}

// d silu(g)/dg = s (1 + g (1 - s)) with s = sigmoid(g).
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                     size_t N) {
    const long n = (long)N;
#pragma omp parallel for simd
    for (long i = 0; i < n; ++i) {
        const float g = gate[i];
        const float s = 1.0f / (1.0f + vec_expf(-g));
        dgate[i] = dout[i] * up[i] * (s * (1.0f + g * (1.0f - s)));
        dup[i] = dout[i] * (g * s);
    }
}

}  // namespace stride
