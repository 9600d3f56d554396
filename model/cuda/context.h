// The CUDA backend's device context: the device, the one stream every entry runs on, the cuBLAS
// handle, and a scratch workspace (split-K partials of decode attention, sampling state). Created on
// first use for the current device (CUDA_VISIBLE_DEVICES picks which GPU a process sees).
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>

namespace stride::cuda {

// How projections compute (cuBLAS compute type). fp32 is exact fp32 (tests, greedy parity with the
// CPU); bf16 rounds the fp32 inputs to bf16 inside the GEMM and accumulates in fp32.
enum class MatmulPrecision { fp32, bf16 };

struct Context {
    int device = 0;
    cudaStream_t stream = nullptr;
    cublasHandle_t blas = nullptr;
    MatmulPrecision precision = MatmulPrecision::fp32;
    void* workspace = nullptr;  // grown by workspace_at_least, never shrunk
    size_t workspace_bytes = 0;
};

// The process's context (created on first call; throws Error when no device can be used).
Context& context();
// Scratch of at least `bytes` on the device, valid until the next call (stream-ordered use only).
void* workspace_at_least(size_t bytes);
void set_matmul_precision(MatmulPrecision p);

}  // namespace stride::cuda
