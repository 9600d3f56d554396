// One block per new token, threads over its kv_row = nkv * D elements.
#include "model/cuda/cuda_check.h"
#include "model/cuda/kv_append.h"
#include "model/ops/math.h"

namespace stride::cuda {

namespace {

__device__ __forceinline__ float store_as(float x, float*) {
    return x;
}
__device__ __forceinline__ uint16_t store_as(float x, uint16_t*) {
    return bf16_from_float(x);
}

template <class E>
__global__ void kv_append_kernel(E* k_cache, E* v_cache, size_t block_stride, const float* k, const float* v,
                                 const int* slots, int kv_row, int block_size) {
    const int t = blockIdx.x;
    const int slot = slots[t];
    const size_t dst = (size_t)(slot / block_size) * block_stride + (size_t)(slot % block_size) * kv_row;
    const float* kt = k + (size_t)t * kv_row;
    const float* vt = v + (size_t)t * kv_row;
    for (int i = threadIdx.x; i < kv_row; i += blockDim.x) {
        k_cache[dst + i] = store_as(kt[i], k_cache);
        v_cache[dst + i] = store_as(vt[i], v_cache);
    }
}

}  // namespace

void kv_append(float* k_cache, float* v_cache, size_t block_stride, const float* k, const float* v,
               const int* slots, int T, int kv_row, int block_size, cudaStream_t stream) {
    if (T == 0) return;
    kv_append_kernel<<<T, 128, 0, stream>>>(k_cache, v_cache, block_stride, k, v, slots, kv_row, block_size);
    STRIDE_CUDA_LAUNCH_CHECK();
}

void kv_append_bf16(uint16_t* k_cache, uint16_t* v_cache, size_t block_stride, const float* k, const float* v,
                    const int* slots, int T, int kv_row, int block_size, cudaStream_t stream) {
    if (T == 0) return;
    kv_append_kernel<<<T, 128, 0, stream>>>(k_cache, v_cache, block_stride, k, v, slots, kv_row, block_size);
    STRIDE_CUDA_LAUNCH_CHECK();
}

}  // namespace stride::cuda
