// The engine's ops behind one table, so a device backend can replace the CPU kernels op by op
// (ggml's backend idea, without the graph). Every entry has exactly the contract of the CPU function
// of the same name in model/ops/<op>.h, on pointers that live on the backend's device; the
// transformer and the decoder call ops only through a Backend. CUDA kernels (model/cuda/) are
// written against the same contracts and tested against the CPU table entries.
#pragma once
#include "model/ops/attention.h"
#include "model/ops/embedding.h"
#include "model/ops/logprob.h"
#include "model/ops/matmul.h"
#include "model/ops/paged_attention.h"
#include "model/ops/rmsnorm.h"
#include "model/ops/rope.h"
#include "model/ops/swiglu.h"

namespace stride {

struct Backend {
    const char* name;
    decltype(&stride::matmul_forward) matmul_forward;
    decltype(&stride::matmul_backward) matmul_backward;
    decltype(&stride::rmsnorm_forward) rmsnorm_forward;
    decltype(&stride::rmsnorm_backward) rmsnorm_backward;
    decltype(&stride::rope_forward) rope_forward;
    decltype(&stride::rope_backward) rope_backward;
    decltype(&stride::swiglu_forward) swiglu_forward;
    decltype(&stride::swiglu_backward) swiglu_backward;
    decltype(&stride::attention_forward) attention_forward;
    decltype(&stride::attention_backward) attention_backward;
    decltype(&stride::embedding_forward) embedding_forward;
    decltype(&stride::embedding_backward) embedding_backward;
    decltype(&stride::lm_head_logprob_forward) lm_head_logprob_forward;
    decltype(&stride::lm_head_logprob_backward) lm_head_logprob_backward;
    decltype(&stride::lm_head_logits) lm_head_logits;
    decltype(&stride::paged_attention_forward) paged_attention_forward;
    decltype(&stride::paged_attention_forward_bf16) paged_attention_forward_bf16;
};

// The plain CPU implementation: OpenBLAS SGEMM plus our OpenMP kernels.
const Backend& cpu_backend();

}  // namespace stride
