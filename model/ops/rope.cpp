// Rotary position embedding (HF rotate-half layout) and the inverse-frequency table with HF's
// default / linear / llama3 scaling (transformers modeling_rope_utils.py).
#include "model/ops/rope.h"

#include <cmath>

#include "common/base/error.h"
#include "model/ops/math.h"

namespace stride {

std::vector<float> rope_inv_freq(const ModelConfig& cfg) {
    const int D = cfg.head_dim;
    STRIDE_CHECK(D > 0 && D % 2 == 0, "rope: head_dim must be even and positive, got " + std::to_string(D));
    // HF: 1 / base ** (arange(0, D, 2).float() / D), evaluated in fp32.
    std::vector<float> inv(D / 2);
    const float base = (float)cfg.rope_theta;
    for (int i = 0; i < D / 2; ++i) inv[i] = 1.0f / powf(base, (float)(2 * i) / (float)D);

    const RopeScaling& rs = cfg.rope_scaling;
    if (rs.type == RopeScalingType::linear) {
        for (float& f : inv) f /= rs.factor;
    } else if (rs.type == RopeScalingType::llama3) {
        // _compute_llama3_parameters: long wavelengths are slowed by `factor`, short ones kept, the band
        // in between blended linearly in 1/wavelen.
        const float old_ctx = (float)rs.original_max_position_embeddings;
        const float low_wl = old_ctx / rs.low_freq_factor;
        const float high_wl = old_ctx / rs.high_freq_factor;
        const float pi = 3.14159265358979323846f;
        for (float& f : inv) {
            const float wavelen = 2.0f * pi / f;
            const float scaled = wavelen > low_wl ? f / rs.factor : f;
            if (wavelen < high_wl || wavelen > low_wl) {
                f = scaled;
            } else {
                const float s =
                    (old_ctx / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
                f = (1.0f - s) * scaled / rs.factor + s * scaled;
            }
        }
    }
    return inv;
}

// Shared body: rotate every (j, j + D/2) pair of every head of token t by pos * inv_freq[j]
// (backward: by the opposite angle, rope_rotate_backward; the rotation is orthogonal).
static void rope_apply(float* x, const int* pos, const float* inv_freq, int T, int nh, int D, bool backward) {
    const int half = D / 2;
#pragma omp parallel for
    for (int t = 0; t < T; ++t) {
        // cos/sin once per token, reused by all heads. HF computes the angle in fp32.
        float cs[512], sn[512];
        for (int j0 = 0; j0 < half; j0 += 512) {
            const int j1 = j0 + 512 < half ? j0 + 512 : half;
            for (int j = j0; j < j1; ++j) {
                const float a = (float)pos[t] * inv_freq[j];
                cs[j - j0] = cosf(a);
                sn[j - j0] = sinf(a);
            }
            for (int h = 0; h < nh; ++h) {
                float* v = x + ((size_t)t * nh + h) * D;
                if (backward)
                    for (int j = j0; j < j1; ++j)
                        rope_rotate_backward(v[j], v[j + half], cs[j - j0], sn[j - j0]);
                else
                    for (int j = j0; j < j1; ++j) rope_rotate(v[j], v[j + half], cs[j - j0], sn[j - j0]);
            }
        }
    }
}

void rope_forward(float* x, const int* pos, const float* inv_freq, int T, int nh, int D) {
    rope_apply(x, pos, inv_freq, T, nh, D, false);
}

void rope_backward(float* dx, const int* pos, const float* inv_freq, int T, int nh, int D) {
    rope_apply(dx, pos, inv_freq, T, nh, D, true);
}

}  // namespace stride
