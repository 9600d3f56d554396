// model/cuda/bf16_convert.h: fp32 -> bf16 on the GPU, bit-exact with model/dtype.h's f32_to_bf16
// (round to nearest even, every NaN 0xFFFF): the trainer's weight buckets for the NCCL broadcast
// (model/nccl/nccl_weights.h) are converted on the device. Checked against the CPU on a GPU by
// tests/model/test_nccl_comm.cpp (the received weights equal the CPU's bf16 rounding).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

namespace stride::cuda {

// dst[i] = bf16(src[i]) for i < n (device pointers), on `stream`.
void f32_to_bf16(uint16_t* dst, const float* src, size_t n, cudaStream_t stream);

}  // namespace stride::cuda
