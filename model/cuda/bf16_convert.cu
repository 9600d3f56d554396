// model/cuda/bf16_convert.cu: see bf16_convert.h.
#include <algorithm>
#include "model/cuda/bf16_convert.h"

#include "model/cuda/cuda_check.h"

namespace stride::cuda {

namespace {

// The bit arithmetic of model/dtype.h's f32_to_bf16 (not __float2bfloat16: its NaN is not torch's).
__device__ inline uint16_t bf16_bits(float f) {
    const uint32_t u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0xffffu;
    return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__global__ void f32_to_bf16_kernel(uint16_t* __restrict__ dst, const float* __restrict__ src, size_t n) {
    for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<size_t>(gridDim.x) * blockDim.x)
        dst[i] = bf16_bits(src[i]);
}

}  // namespace

void f32_to_bf16(uint16_t* dst, const float* src, size_t n, cudaStream_t stream) {
    if (n == 0) return;
    const int threads = 256;
    const int blocks = static_cast<int>(std::min<size_t>((n + threads - 1) / threads, 4096));
    f32_to_bf16_kernel<<<blocks, threads, 0, stream>>>(dst, src, n);
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace stride::cuda
