#include "model/ops/bf16_weights.h"

#include <string>
#include <vector>

#include "common/base/error.h"
#include "model/ops/math.h"
#include "model/ops/matmul.h"

namespace stride {

void matmul_forward_bf16(float* out, const float* inp, const uint16_t* weight, const float* bias, int T,
                         int Cin, int Cout) {
    if (T == 0 || Cout == 0) return;
    // Widen to fp32 and run the fp32 GEMM: bf16 values are exact in fp32, so only the accumulation
    // order differs from a bf16-input GEMM.
    std::vector<float> x(static_cast<size_t>(T) * Cin), w(static_cast<size_t>(Cout) * Cin);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float_from_bf16(bf16_from_float(inp[i]));
    for (size_t i = 0; i < w.size(); ++i) w[i] = float_from_bf16(weight[i]);
    matmul_forward(out, x.data(), w.data(), bias, T, Cin, Cout);
}

void embedding_forward_bf16(float* out, const int* tokens, const uint16_t* table, int T, int H, int V) {
    for (int t = 0; t < T; ++t) {
        STRIDE_CHECK(tokens[t] >= 0 && tokens[t] < V, "embedding: token id " + std::to_string(tokens[t]) +
                                                          " outside [0, " + std::to_string(V) + ")");
        const uint16_t* row = table + static_cast<size_t>(tokens[t]) * H;
        for (int h = 0; h < H; ++h) out[static_cast<size_t>(t) * H + h] = float_from_bf16(row[h]);
    }
}

void cast_to_bf16(uint16_t* dst, const float* src, size_t n) {
    const long N = static_cast<long>(n);
#pragma omp parallel for if (N >= 65536)
    for (long i = 0; i < N; ++i) dst[i] = bf16_from_float(src[i]);
}

}  // namespace stride
