// SwiGLU elementwise: out = silu(gate) * up. Per-element math from model/ops/math.h (shared with CUDA).
#include "model/ops/swiglu.h"

#include "model/ops/math.h"

namespace stride {

void swiglu_forward(float* out, const float* gate, const float* up, size_t N) {
    const long n = (long)N;
#pragma omp parallel for simd
    for (long i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                     size_t N) {
    const long n = (long)N;
#pragma omp parallel for simd
    for (long i = 0; i < n; ++i) {
        const float g = gate[i];
        dgate[i] = dout[i] * up[i] * silu_grad(g);
        dup[i] = dout[i] * silu(g);
    }
}

}  // namespace stride
