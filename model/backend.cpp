// The CPU backend's table, and the choice of a backend by device name.
#include "model/backend.h"

#include <cstdlib>
#include <cstring>

#include "common/base/error.h"
#include "model/ops/math.h"
#if STRIDE_HAVE_CUDA
#include "model/cuda/backend_cuda.h"
#endif

namespace stride {

namespace {

void* cpu_alloc(size_t bytes) {
    const size_t rounded = (bytes + 63) / 64 * 64;  // aligned_alloc wants a multiple of the alignment
    void* p = std::aligned_alloc(64, rounded ? rounded : 64);
    STRIDE_CHECK(p != nullptr, "cpu backend: cannot allocate " + std::to_string(bytes) + " bytes");
    return p;
}
void cpu_free(void* p) {
    std::free(p);
}
void cpu_copy(void* dst, const void* src, size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
}
void cpu_zero(void* p, size_t bytes) {
    if (bytes) std::memset(p, 0, bytes);
}
void cpu_sync() {}

void cpu_add_inplace(float* y, const float* x, size_t n) {
    const long N = (long)n;
    // Threads only pay off for big rows (a decode step adds a few KB).
#pragma omp parallel for simd if (N >= 65536)
    for (long i = 0; i < N; ++i) y[i] += x[i];
}

void cpu_rmsnorm_residual_forward(float* out, float* rstd, float* residual, const float* x,
                                  const float* weight, int T, int C, float eps) {
    cpu_add_inplace(residual, x, (size_t)T * C);
    rmsnorm_forward(out, rstd, residual, weight, T, C, eps);
}

void cpu_attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                           const int* cu_seqlens, int n_seqs, int /*T*/, int nq, int nkv, int D) {
    attention_forward(out, lse, q, k, v, cu_seqlens, n_seqs, nq, nkv, D);
}
void cpu_attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                            const float* lse, const float* q, const float* k, const float* v,
                            const int* cu_seqlens, int n_seqs, int /*T*/, int nq, int nkv, int D) {
    attention_backward(dq, dk, dv, dout, out, lse, q, k, v, cu_seqlens, n_seqs, nq, nkv, D);
}

template <class E, class Store>
void kv_append_rows(E* k_cache, E* v_cache, size_t block_stride, const float* k, const float* v,
                    const int* slots, int T, int kv_row, int block_size, Store store) {
#pragma omp parallel for if (T >= 256)
    for (int t = 0; t < T; ++t) {
        const size_t dst =
            (size_t)(slots[t] / block_size) * block_stride + (size_t)(slots[t] % block_size) * kv_row;
        const float* kt = k + (size_t)t * kv_row;
        const float* vt = v + (size_t)t * kv_row;
        for (int i = 0; i < kv_row; ++i) k_cache[dst + i] = store(kt[i]), v_cache[dst + i] = store(vt[i]);
    }
}
void cpu_kv_append(float* k_cache, float* v_cache, size_t block_stride, const float* k, const float* v,
                   const int* slots, int T, int kv_row, int block_size) {
    kv_append_rows(k_cache, v_cache, block_stride, k, v, slots, T, kv_row, block_size,
                   [](float x) { return x; });
}
void cpu_kv_append_bf16(uint16_t* k_cache, uint16_t* v_cache, size_t block_stride, const float* k,
                        const float* v, const int* slots, int T, int kv_row, int block_size) {
    kv_append_rows(k_cache, v_cache, block_stride, k, v, slots, T, kv_row, block_size,
                   [](float x) { return bf16_from_float(x); });
}

}  // namespace

const Backend& cpu_backend() {
    static const Backend cpu{
        "cpu",
        DeviceKind::cpu,
        0,
        nullptr,
        true,
        &cpu_alloc,
        &cpu_free,
        &cpu_copy,
        &cpu_zero,
        &cpu_sync,
        &cpu_add_inplace,
        &cpu_rmsnorm_residual_forward,
        &stride::matmul_forward,
        &stride::matmul_backward,
        &stride::rmsnorm_forward,
        &stride::rmsnorm_backward,
        &stride::rope_forward,
        &stride::rope_backward,
        &stride::swiglu_forward,
        &stride::swiglu_backward,
        &cpu_attention_forward,
        &cpu_attention_backward,
        &stride::embedding_forward,
        &stride::embedding_backward,
        &stride::lm_head_logprob_forward,
        &stride::lm_head_logprob_backward,
        &stride::lm_head_logits,
        &stride::paged_attention_forward,
        &stride::paged_attention_forward_bf16,
        &cpu_kv_append,
        &cpu_kv_append_bf16,
        &stride::sample_rows,
        &stride::adamw_step,
        &stride::sum_squares,
        &stride::scale,
        &stride::matmul_forward_bf16,
        &stride::embedding_forward_bf16,
        &stride::cast_to_bf16,
        &cpu_alloc,
        &cpu_free,
        nullptr,  // memory_info: the CPU's memory is not sized by the engine
    };
    return cpu;
}

std::string device_unavailable_reason(const std::string& device) {
    if (device == "cpu") return "";
    if (device != "cuda") return "unknown device '" + device + "' (expected cpu or cuda)";
#if STRIDE_HAVE_CUDA
    return cuda::device_unavailable_reason();
#else
    return "this stride was built without CUDA (configure with nvcc installed, or -DSTRIDE_CUDA=ON)";
#endif
}

const Backend& backend_for_device(const std::string& device) {
    const std::string why = device_unavailable_reason(device);
    STRIDE_CHECK(why.empty(), "device " + device + ": " + why);
#if STRIDE_HAVE_CUDA
    if (device == "cuda") return cuda::cuda_backend();
#endif
    return cpu_backend();
}

}  // namespace stride
