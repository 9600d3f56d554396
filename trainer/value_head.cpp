#include "trainer/value_head.h"

namespace stride {

void value_head_forward(const float* params, const float* f, int rows, int H, float* v) {
    for (int r = 0; r < rows; ++r) {
        const float* x = f + static_cast<long>(r) * H;
        double s = params[H];  // accumulated in double: H can be thousands of terms
        for (int h = 0; h < H; ++h) s += static_cast<double>(params[h]) * x[h];
        v[r] = static_cast<float>(s);
    }
}

void value_head_backward(const float* params, const float* f, const float* d_v, int rows, int H,
                         float* g_params, float* g_f) {
    for (int r = 0; r < rows; ++r) {
        const float d = d_v[r];
        if (d == 0.0f) continue;
        const float* x = f + static_cast<long>(r) * H;
        for (int h = 0; h < H; ++h) g_params[h] += d * x[h];
        g_params[H] += d;
        if (g_f) {
            float* gx = g_f + static_cast<long>(r) * H;
            for (int h = 0; h < H; ++h) gx[h] += d * params[h];
        }
    }
}

}  // namespace stride
