// Each entry adapts a kernel launcher to the CPU contract: same arguments, the context's stream and
// cuBLAS handle added. Memory: cudaMalloc'd buffers, copies with cudaMemcpyDefault (unified
// addressing tells host from device) in stream order.
#include "model/cuda/adamw.h"
#include "model/cuda/attention.h"
#include "model/cuda/attention_backward.h"
#include "model/cuda/backend_cuda.h"
#include "model/cuda/bf16_weights.h"
#include "model/cuda/context.h"
#include "model/cuda/cuda_check.h"
#include "model/cuda/elementwise.h"
#include "model/cuda/kv_append.h"
#include "model/cuda/logprob.h"
#include "model/cuda/matmul.h"
#include "model/cuda/paged_attention.h"
#include "model/cuda/rmsnorm.h"
#include "model/cuda/rope.h"
#include "model/cuda/sampling.h"

namespace stride::cuda {

namespace {

cudaStream_t s() {
    return context().stream;
}

void* dev_alloc(size_t bytes) {
    context();  // the device is chosen before the first allocation
    void* p = nullptr;
    const cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err != cudaSuccess) {
        cudaGetLastError();
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        throw Error("cuda backend: cannot allocate " + std::to_string(bytes >> 20) + " MiB (" +
                    std::to_string(free_b >> 20) + " of " + std::to_string(total_b >> 20) +
                    " MiB free): " + cudaGetErrorString(err));
    }
    return p;
}
void dev_free(void* p) {
    cudaFree(p);  // no throw from destructors; cudaFree synchronises the device
}
void dev_copy(void* dst, const void* src, size_t bytes) {
    if (bytes) STRIDE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, s()));
}
void dev_zero(void* p, size_t bytes) {
    if (bytes) STRIDE_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, s()));
}
void dev_sync() {
    STRIDE_CUDA_CHECK(cudaStreamSynchronize(s()));
}

void add_inplace_e(float* y, const float* x, size_t n) {
    add_inplace(y, x, n, s());
}
void rmsnorm_residual_e(float* out, float* rstd, float* residual, const float* x, const float* w, int T,
                        int C, float eps) {
    rmsnorm_residual_forward(out, rstd, residual, x, w, T, C, eps, s());
}
void matmul_forward_e(float* out, const float* inp, const float* w, const float* b, int T, int Cin,
                      int Cout) {
    matmul_forward(context(), out, inp, w, b, T, Cin, Cout);
}
void matmul_backward_e(float* dinp, float* dw, float* db, const float* dout, const float* inp, const float* w,
                       int T, int Cin, int Cout) {
    matmul_backward(context(), dinp, dw, db, dout, inp, w, T, Cin, Cout);
}
void rmsnorm_forward_e(float* out, float* rstd, const float* inp, const float* w, int T, int C, float eps) {
    rmsnorm_forward(out, rstd, inp, w, T, C, eps, s());
}
void rmsnorm_backward_e(float* dinp, float* dw, const float* dout, const float* inp, const float* w,
                        const float* rstd, int T, int C) {
    float* scratch =
        static_cast<float*>(workspace_at_least(sizeof(float) * rmsnorm_backward_scratch_floats(T, C)));
    rmsnorm_backward(dinp, dw, dout, inp, w, rstd, T, C, scratch, s());
}
void rope_forward_e(float* x, const int* pos, const float* inv_freq, int T, int nh, int D) {
    rope_forward(x, pos, inv_freq, T, nh, D, s());
}
void rope_backward_e(float* dx, const int* pos, const float* inv_freq, int T, int nh, int D) {
    rope_backward(dx, pos, inv_freq, T, nh, D, s());
}
void swiglu_forward_e(float* out, const float* gate, const float* up, size_t N) {
    swiglu_forward(out, gate, up, N, s());
}
void swiglu_backward_e(float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                       size_t N) {
    swiglu_backward(dgate, dup, dout, gate, up, N, s());
}
void attention_forward_e(float* out, float* lse, const float* q, const float* k, const float* v,
                         const int* cu, int n_seqs, int T, int nq, int nkv, int D) {
    attention_forward(out, lse, q, k, v, cu, n_seqs, T, nq, nkv, D, s());
}
void attention_backward_e(float* dq, float* dk, float* dv, const float* dout, const float* out,
                          const float* lse, const float* q, const float* k, const float* v, const int* cu,
                          int n_seqs, int T, int nq, int nkv, int D) {
    float* delta = static_cast<float*>(workspace_at_least(sizeof(float) * (size_t)T * nq));
    attention_backward(dq, dk, dv, dout, out, lse, q, k, v, cu, n_seqs, T, nq, nkv, D, delta, s());
}
void embedding_forward_e(float* out, const int* tokens, const float* table, int T, int H, int V) {
    embedding_forward(out, tokens, table, T, H, V, s());
}
void embedding_backward_e(float* dtable, const float* dout, const int* tokens, int T, int H) {
    embedding_backward(dtable, dout, tokens, T, H, s());
}
void lm_head_logprob_forward_e(float* lp, float* ent, const float* h, const float* w, const int* targets,
                               int T, int H, int V, float temperature, int chunk, float* workspace) {
    lm_head_logprob_forward(context(), lp, ent, h, w, targets, T, H, V, temperature, chunk, workspace);
}
void lm_head_logprob_backward_e(float* dh, float* dw, const float* g_lp, const float* g_ent, const float* h,
                                const float* w, const int* targets, int T, int H, int V, float temperature,
                                int chunk, float* workspace) {
    lm_head_logprob_backward(context(), dh, dw, g_lp, g_ent, h, w, targets, T, H, V, temperature, chunk,
                             workspace);
}
void lm_head_logits_e(float* out, const float* h, const float* w, int T, int H, int V) {
    lm_head_logits(context(), out, h, w, T, H, V);
}
void paged_e(float* out, const float* q, const float* kc, const float* vc, size_t stride, const int* tables,
             int max_blocks, const int* seq, const int* pos, int T, int nq, int nkv, int D, int B) {
    paged_attention_forward(out, q, kc, vc, stride, tables, max_blocks, seq, pos, T, nq, nkv, D, B, s());
}
void paged_bf16_e(float* out, const float* q, const uint16_t* kc, const uint16_t* vc, size_t stride,
                  const int* tables, int max_blocks, const int* seq, const int* pos, int T, int nq, int nkv,
                  int D, int B) {
    paged_attention_forward_bf16(out, q, kc, vc, stride, tables, max_blocks, seq, pos, T, nq, nkv, D, B, s());
}
void kv_append_e(float* kc, float* vc, size_t stride, const float* k, const float* v, const int* slots, int T,
                 int kv_row, int B) {
    kv_append(kc, vc, stride, k, v, slots, T, kv_row, B, s());
}
void kv_append_bf16_e(uint16_t* kc, uint16_t* vc, size_t stride, const float* k, const float* v,
                      const int* slots, int T, int kv_row, int B) {
    kv_append_bf16(kc, vc, stride, k, v, slots, T, kv_row, B, s());
}
void sample_e(int* tokens, float* logprobs, const float* logits, const int* rows, const SampleRequest* req,
              int n, int V) {
    sample(tokens, logprobs, logits, rows, req, n, V, s());
}
void adamw_step_e(float* p, const float* g, float* m, float* v, size_t n, const AdamWStep& st) {
    adamw_step(p, g, m, v, n, st, s());
}
void sum_squares_e(double* partials, const float* x, size_t n) {
    sum_squares(partials, x, n, s());
}
void scale_e(float* x, float factor, size_t n) {
    scale(x, factor, n, s());
}

void matmul_forward_bf16_e(float* out, const float* inp, const uint16_t* w, const float* b, int T, int Cin,
                           int Cout) {
    matmul_forward_bf16(context(), out, inp, w, b, T, Cin, Cout);
}
void embedding_forward_bf16_e(float* out, const int* tokens, const uint16_t* table, int T, int H, int V) {
    embedding_forward_bf16(out, tokens, table, T, H, V, s());
}
void cast_to_bf16_e(uint16_t* dst, const float* src, size_t n) {
    cast_to_bf16(dst, src, n, s());
}
// Pinned host memory: copies from it run at full bus speed and truly asynchronously.
void* host_alloc(size_t bytes) {
    context();
    void* p = nullptr;
    const cudaError_t err = cudaMallocHost(&p, bytes ? bytes : 1);
    if (err != cudaSuccess) {
        cudaGetLastError();
        throw Error("cuda backend: cannot allocate " + std::to_string(bytes >> 20) +
                    " MiB of pinned host memory: " + cudaGetErrorString(err));
    }
    return p;
}
void host_free(void* p) {
    cudaFreeHost(p);
}
void memory_info_e(size_t* free_bytes, size_t* total_bytes) {
    context();
    STRIDE_CUDA_CHECK(cudaMemGetInfo(free_bytes, total_bytes));
}

}  // namespace

std::string device_unavailable_reason() {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        cudaGetLastError();  // clear the sticky error of a machine without a driver
        return std::string("no usable CUDA device (") + cudaGetErrorString(err) + ")";
    }
    if (n == 0) return "no CUDA device is visible (check CUDA_VISIBLE_DEVICES and nvidia-smi)";
    return "";
}

const Backend& cuda_backend() {
    static const Backend cuda = [] {
        Context& c = context();
        return Backend{
            "cuda",
            DeviceKind::cuda,
            c.device,
            c.stream,
            false,
            &dev_alloc,
            &dev_free,
            &dev_copy,
            &dev_zero,
            &dev_sync,
            &add_inplace_e,
            &rmsnorm_residual_e,
            &matmul_forward_e,
            &matmul_backward_e,
            &rmsnorm_forward_e,
            &rmsnorm_backward_e,
            &rope_forward_e,
            &rope_backward_e,
            &swiglu_forward_e,
            &swiglu_backward_e,
            &attention_forward_e,
            &attention_backward_e,
            &embedding_forward_e,
            &embedding_backward_e,
            &lm_head_logprob_forward_e,
            &lm_head_logprob_backward_e,
            &lm_head_logits_e,
            &paged_e,
            &paged_bf16_e,
            &kv_append_e,
            &kv_append_bf16_e,
            &sample_e,
            &adamw_step_e,
            &sum_squares_e,
            &scale_e,
            &matmul_forward_bf16_e,
            &embedding_forward_bf16_e,
            &cast_to_bf16_e,
            &host_alloc,
            &host_free,
            &memory_info_e,
        };
    }();
    return cuda;
}

}  // namespace stride::cuda
