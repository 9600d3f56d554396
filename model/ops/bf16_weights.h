// Ops that read weights stored in bfloat16 (rollout.dtype = bf16): the projections and the embedding
// gather. Activations stay fp32; a projection rounds its input rows to bf16 and accumulates the
// products in fp32, which is what a GEMM with bf16 inputs and fp32 accumulation (cuBLAS on the GPU)
// computes, so the CPU versions here are the reference tests/model/test_backend_ops.cpp checks the
// CUDA kernels against. They are plain and slow (each call widens the weight to fp32): the CPU engine
// computes in fp32 (config refuses rollout.dtype = bf16 on the CPU); these exist for the tests.
#pragma once
#include <cstddef>
#include <cstdint>

namespace stride {

// out[T, Cout] = bf16(inp)[T, Cin] . weight[Cout, Cin]^T (+ bias[Cout], fp32); bias may be null.
void matmul_forward_bf16(float* out, const float* inp, const uint16_t* weight, const float* bias, int T,
                         int Cin, int Cout);
// out[T, H] = float(table[tokens[t]]), table [V, H] in bf16. Tokens out of [0, V) throw Error.
void embedding_forward_bf16(float* out, const int* tokens, const uint16_t* table, int T, int H, int V);
// dst[i] = bf16(src[i]), round to nearest even (bf16_from_float).
void cast_to_bf16(uint16_t* dst, const float* src, size_t n);

}  // namespace stride
