// The engine's ops behind one table, so a device backend can replace the CPU kernels op by op
// (ggml's backend idea, without the graph). Every op entry has exactly the contract of the CPU
// function of the same name in model/ops/<op>.h, on pointers that live on the backend's device
// (integer arrays and small tables too); the transformer and the decoder call ops and touch memory
// only through a Backend. An entry may be null: the backend does not have that op yet (a backend
// under construction; the CPU and CUDA backends fill every entry); callers check with Backend::has().
//
// A Backend also carries its device context: which device, the stream every entry runs on, and the
// allocator. Parameters, the activation arenas and the KV block pool are each one allocation made
// through `alloc` (llm.c style); `copy` moves bytes in any direction (host <-> device) in stream
// order, and `sync` waits for the stream. On the CPU backend device memory is host memory and
// copy/sync are memcpy/no-op.
//
// Checked entry by entry against cpu_backend() by tests/model/test_backend_ops.cpp.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/ops/attention.h"
#include "model/ops/bf16_weights.h"
#include "model/ops/embedding.h"
#include "model/ops/logprob.h"
#include "model/ops/matmul.h"
#include "model/ops/optimizer.h"
#include "model/ops/paged_attention.h"
#include "model/ops/rmsnorm.h"
#include "model/ops/rope.h"
#include "model/ops/swiglu.h"
#include "model/sampler.h"

namespace stride {

enum class DeviceKind { cpu, cuda };

struct Backend {
    const char* name;
    DeviceKind kind;
    int device;    // CUDA ordinal; 0 on the CPU
    void* stream;  // cudaStream_t of every entry below; null on the CPU
    // Device memory is host memory (the CPU): callers then hand host arrays to the entries directly
    // and skip the copies to and from the device. false on a device, and on the CPU-staged backend
    // tests use to run every copy path without a GPU (tests/model/test_backend_staging.cpp).
    bool host_memory;

    // ---- memory ------------------------------------------------------------------------------
    // bytes of device memory, 64-byte aligned; throws Error (naming the size) when out of memory.
    void* (*alloc)(size_t bytes);
    void (*free)(void* p);
    // bytes from src to dst, either on the host or the device (cudaMemcpyDefault), in stream order.
    void (*copy)(void* dst, const void* src, size_t bytes);
    void (*zero)(void* p, size_t bytes);
    // Waits until every entry called so far has finished (host results are then valid).
    void (*sync)();

    // ---- elementwise ---------------------------------------------------------------------------
    // y[i] += x[i] over n floats (residual connections).
    void (*add_inplace)(float* y, const float* x, size_t n);
    // residual[T, C] += x[T, C], then out = rmsnorm(residual) (the fused residual + norm of a layer).
    void (*rmsnorm_residual_forward)(float* out, float* rstd, float* residual, const float* x,
                                     const float* weight, int T, int C, float eps);

    // ---- ops of model/ops/*.h ------------------------------------------------------------------
    decltype(&stride::matmul_forward) matmul_forward;
    decltype(&stride::matmul_backward) matmul_backward;
    decltype(&stride::rmsnorm_forward) rmsnorm_forward;
    decltype(&stride::rmsnorm_backward) rmsnorm_backward;
    decltype(&stride::rope_forward) rope_forward;
    decltype(&stride::rope_backward) rope_backward;
    decltype(&stride::swiglu_forward) swiglu_forward;
    decltype(&stride::swiglu_backward) swiglu_backward;
    // As attention_forward/backward in model/ops/attention.h plus T = cu_seqlens[n_seqs], which a
    // device kernel needs on the host to size its grid. The CUDA backward keeps rowsum(dO * O)
    // ([T, nq] floats) in the context's scratch (model/cuda/context.h).
    void (*attention_forward)(float* out, float* lse, const float* q, const float* k, const float* v,
                              const int* cu_seqlens, int n_seqs, int T, int nq, int nkv, int D);
    void (*attention_backward)(float* dq, float* dk, float* dv, const float* dout, const float* out,
                               const float* lse, const float* q, const float* k, const float* v,
                               const int* cu_seqlens, int n_seqs, int T, int nq, int nkv, int D);
    decltype(&stride::embedding_forward) embedding_forward;
    decltype(&stride::embedding_backward) embedding_backward;
    // workspace must not be null on a device backend (lm_head_workspace_floats floats).
    decltype(&stride::lm_head_logprob_forward) lm_head_logprob_forward;
    decltype(&stride::lm_head_logprob_backward) lm_head_logprob_backward;
    decltype(&stride::lm_head_logits) lm_head_logits;
    decltype(&stride::paged_attention_forward) paged_attention_forward;
    decltype(&stride::paged_attention_forward_bf16) paged_attention_forward_bf16;

    // ---- KV cache and sampling -----------------------------------------------------------------
    // Writes the K/V rows (kv_row = nkv * D floats each) of T new tokens into one layer of the paged
    // cache: token t goes to block slots[t] / block_size, offset slots[t] % block_size, where block b
    // of that layer's K starts at k_cache + b * block_stride (same for v_cache). The bf16 variant
    // rounds to nearest even (bf16_from_float).
    void (*kv_append)(float* k_cache, float* v_cache, size_t block_stride, const float* k, const float* v,
                      const int* slots, int T, int kv_row, int block_size);
    void (*kv_append_bf16)(uint16_t* k_cache, uint16_t* v_cache, size_t block_stride, const float* k,
                           const float* v, const int* slots, int T, int kv_row, int block_size);
    // For each of n requests: the token drawn as Sampler::sample draws it from row rows[i] of
    // logits[*, V] (rows null: row i; rows may repeat, as GRPO samples sharing a prompt do) and its
    // log-prob under softmax(logits / temperature) over the full vocabulary (model/sampler.h). Only the
    // n tokens and log-probs need to cross to the host.
    void (*sample)(int* tokens, float* logprobs, const float* logits, const int* rows,
                   const SampleRequest* requests, int n, int V);

    // ---- the optimizer (model/ops/optimizer.h) ---------------------------------------------------
    // On the flat parameter, gradient and moment buffers, which have one layout (model/optim.h).
    decltype(&stride::adamw_step) adamw_step;
    // partials: kSumSquaresBlocks doubles on the device; the host adds them in order.
    decltype(&stride::sum_squares) sum_squares;
    decltype(&stride::scale) scale;

    // ---- bf16 weights and device memory (rollout.dtype = bf16; model/ops/bf16_weights.h) ----------
    // Projections with a bf16 weight (fp32 activations rounded to bf16, fp32 accumulation), the
    // embedding gather from a bf16 table, and the fp32 -> bf16 cast that fills them on the device.
    decltype(&stride::matmul_forward_bf16) matmul_forward_bf16;
    decltype(&stride::embedding_forward_bf16) embedding_forward_bf16;
    decltype(&stride::cast_to_bf16) cast_to_bf16;
    // Host memory the device copies from at full speed (pinned on CUDA; plain memory on the CPU), for
    // bounded staging buffers (model/device_weights.h). Freed with free_host.
    void* (*alloc_host)(size_t bytes);
    void (*free_host)(void* p);
    // Free and total bytes of the device's memory (cudaMemGetInfo), for sizing the KV pool from what
    // is left (model/kv_budget.h). Null on the CPU: host memory is not the engine's to size.
    void (*memory_info)(size_t* free_bytes, size_t* total_bytes);

    // Whether an entry is implemented here (entries are compared by address, so any member works).
    template <class F>
    bool has(F Backend::*entry) const {
        return this->*entry != nullptr;
    }
};

// The plain CPU implementation: OpenBLAS SGEMM plus our OpenMP kernels.
const Backend& cpu_backend();

// ---- choosing a backend by name (model.device, rollout.device, trainer.device) ------------------
// Empty when `device` ("cpu" or "cuda") can be used in this process, else why not: the binary was
// built without CUDA, or no GPU is visible.
std::string device_unavailable_reason(const std::string& device);
// The backend for "cpu" or "cuda"; throws Error with device_unavailable_reason otherwise.
const Backend& backend_for_device(const std::string& device);

}  // namespace stride
