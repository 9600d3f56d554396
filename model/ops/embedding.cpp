// Token embedding lookup and its scatter-add backward.
#include "model/ops/embedding.h"

#include <cstring>
#include <string>

#include "common/base/error.h"

namespace stride {

void embedding_forward(float* out, const int* tokens, const float* table, int T, int H, int V) {
    // Validate first, serially, so the error names the first bad position deterministically.
    for (int t = 0; t < T; ++t)
        STRIDE_CHECK(tokens[t] >= 0 && tokens[t] < V,
                     "token id " + std::to_string(tokens[t]) + " at position " + std::to_string(t) +
                         " is outside the vocabulary [0, " + std::to_string(V) + ")");
#pragma omp parallel for
    for (int t = 0; t < T; ++t)
        std::memcpy(out + (size_t)t * H, table + (size_t)tokens[t] * H, sizeof(float) * (size_t)H);
}

void embedding_backward(float* dtable, const float* dout, const int* tokens, int T, int H) {
    // Repeated tokens hit the same row, so rows are not independent: split the work over columns
    // instead (each thread owns a slice of H for every token).
    const int block = 64;
    const int nblocks = (H + block - 1) / block;
#pragma omp parallel for
    for (int b = 0; b < nblocks; ++b) {
        const int c0 = b * block, c1 = c0 + block < H ? c0 + block : H;
        for (int t = 0; t < T; ++t) {
            float* d = dtable + (size_t)tokens[t] * H;
            const float* g = dout + (size_t)t * H;
#pragma omp simd
            for (int c = c0; c < c1; ++c) d[c] += g[c];
        }
    }
}

}  // namespace stride
