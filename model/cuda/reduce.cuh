// Warp and block reductions shared by the kernels (device code only).
#pragma once
#include <cuda_runtime.h>

namespace stride::cuda {

inline int ceil_div(long long a, long long b) {
    return static_cast<int>((a + b - 1) / b);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
    return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the total.
// Call from all threads; safe to call repeatedly (the trailing barrier protects the shared slots).
template <class T>
__device__ T block_reduce_sum(T v) {
    __shared__ T partial[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    T total = 0;
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) total += partial[w];
    __syncthreads();
    return total;
}

__device__ __forceinline__ float block_reduce_max(float v) {
    __shared__ float partial[32];
    v = warp_max(v);
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float m = -INFINITY;
    for (int w = 0; w < static_cast<int>(blockDim.x / 32); ++w) m = fmaxf(m, partial[w]);
    __syncthreads();
    return m;
}

}  // namespace stride::cuda
