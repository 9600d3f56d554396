#include "model/ops/optimizer.h"

#include "model/ops/math.h"

namespace stride {

void adamw_step(float* params, const float* grads, float* m, float* v, size_t n, const AdamWStep& s) {
    const long long N = static_cast<long long>(n);
#pragma omp parallel for simd schedule(static)
    for (long long i = 0; i < N; ++i)
        adamw_update(params[i], grads[i], m[i], v[i], s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, s.bc1,
                     s.bc2);
}

void sum_squares(double* partials, const float* x, size_t n) {
#pragma omp parallel for schedule(static)
    for (int b = 0; b < kSumSquaresBlocks; ++b) {
        const size_t begin = n * b / kSumSquaresBlocks, end = n * (b + 1) / kSumSquaresBlocks;
        double sum = 0.0;
        for (size_t i = begin; i < end; ++i) sum += static_cast<double>(x[i]) * x[i];
        partials[b] = sum;
    }
}

void scale(float* x, float factor, size_t n) {
    const long long N = static_cast<long long>(n);
#pragma omp parallel for simd schedule(static)
    for (long long i = 0; i < N; ++i) x[i] *= factor;
}

}  // namespace stride
