#include "model/backend.h"

namespace stride {

const Backend& cpu_backend() {
    static const Backend cpu{
        "cpu",
        &stride::matmul_forward,
        &stride::matmul_backward,
        &stride::rmsnorm_forward,
        &stride::rmsnorm_backward,
        &stride::rope_forward,
        &stride::rope_backward,
        &stride::swiglu_forward,
        &stride::swiglu_backward,
        &stride::attention_forward,
        &stride::attention_backward,
        &stride::embedding_forward,
        &stride::embedding_backward,
        &stride::lm_head_logprob_forward,
        &stride::lm_head_logprob_backward,
        &stride::lm_head_logits,
        &stride::paged_attention_forward,
        &stride::paged_attention_forward_bf16,
    };
    return cpu;
}

}  // namespace stride
