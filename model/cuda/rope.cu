// RoPE: one thread per (token, head, pair j < D/2); the pair (x[j], x[j + D/2]) is rotated by
// pos * inv_freq[j] with rope_rotate from model/ops/math.h (the CPU's arithmetic; the angle in fp32
// as HF computes it).
#include "model/cuda/cuda_check.h"
#include "model/cuda/reduce.cuh"
#include "model/cuda/rope.h"
#include "model/ops/math.h"

namespace stride::cuda {

namespace {

__global__ void rope_kernel(float* x, const int* pos, const float* inv_freq, int T, int nh, int D,
                            bool backward) {
    const int half = D / 2;
    const size_t n = (size_t)T * nh * half;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const int j = static_cast<int>(i % half);
        const size_t th = i / half;  // token * nh + head
        const int t = static_cast<int>(th / nh);
        const float a = (float)pos[t] * inv_freq[j];
        // cosf/sinf, not the fast intrinsics: positions reach 128k, where __cosf loses digits.
        const float c = cosf(a), s = sinf(a);
        float* v = x + th * D;
        if (backward)
            rope_rotate_backward(v[j], v[j + half], c, s);
        else
            rope_rotate(v[j], v[j + half], c, s);
    }
}

void launch(float* x, const int* pos, const float* inv_freq, int T, int nh, int D, bool backward,
            cudaStream_t stream) {
    const size_t n = (size_t)T * nh * (D / 2);
    if (n == 0) return;
    const int threads = 256;
    const long long blocks = (long long)((n + threads - 1) / threads);
    rope_kernel<<<static_cast<int>(blocks < 1 << 20 ? blocks : 1 << 20), threads, 0, stream>>>(
        x, pos, inv_freq, T, nh, D, backward);
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace

void rope_forward(float* x, const int* pos, const float* inv_freq, int T, int nh, int D,
                  cudaStream_t stream) {
    launch(x, pos, inv_freq, T, nh, D, false, stream);
}
void rope_backward(float* dx, const int* pos, const float* inv_freq, int T, int nh, int D,
                   cudaStream_t stream) {
    launch(dx, pos, inv_freq, T, nh, D, true, stream);
}

}  // namespace stride::cuda
