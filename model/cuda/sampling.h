// Sampling on the GPU: temperature, top-k, top-p, per-row seeds, one block per row; returns the token
// and its log-prob (model/sampler.h's semantics: log softmax(logits / temperature) over the full
// vocabulary; greedy reports it under temperature 1). Only the tokens and log-probs leave the device.
// Same contract as Backend::sample (model/backend.h) with device pointers.
#pragma once
#include <cuda_runtime.h>

#include "model/sampler.h"

namespace stride::cuda {

void sample(int* tokens, float* logprobs, const float* logits, const int* rows, const SampleRequest* requests,
            int n, int V, cudaStream_t stream);

}  // namespace stride::cuda
