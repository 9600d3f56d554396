// A bounded host staging buffer for filling device memory piece by piece: each piece is written into
// the buffer (converted on the way, e.g. fp32 -> bf16), copied to the device in stream order, and the
// buffer is reused once it is full and the copies out of it have finished (one sync per buffer-full).
// Memory on the host stays at the buffer's size however large the model is: used to upload weights
// and to load safetensors straight to the device (model/device_weights.h). On CUDA the buffer is
// pinned (Backend::alloc_host), so the copies run at bus speed.
#pragma once
#include <cstddef>
#include <functional>

#include "model/backend.h"

namespace stride {

class WeightStaging {
   public:
    // `bytes` of staging on the host (at least 64 KiB is sensible; any size >= 64 works).
    WeightStaging(const Backend& backend, size_t bytes);
    ~WeightStaging();
    WeightStaging(const WeightStaging&) = delete;
    WeightStaging& operator=(const WeightStaging&) = delete;

    // Writes `count` elements of `elem_bytes` each to device address `dst`: fill(staging, first, n)
    // must write elements [first, first + n) into `staging` (n * elem_bytes bytes). Called once per
    // piece that fits the buffer.
    using Fill = std::function<void(void* staging, size_t first, size_t n)>;
    void put(void* dst, size_t count, size_t elem_bytes, const Fill& fill);
    // Waits for every copy queued so far (the device memory then holds what was put).
    void finish();

    size_t capacity() const { return bytes_; }
    // Buffer-fulls waited for so far (how many times the staging was reused).
    size_t flushes() const { return flushes_; }

   private:
    const Backend& be_;
    size_t bytes_;
    unsigned char* buf_;
    size_t used_ = 0;
    size_t flushes_ = 0;
};

}  // namespace stride
