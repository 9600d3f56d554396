// CUDA error checking and a device buffer that owns its memory. Host-side only.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <vector>

#include "common/base/error.h"

namespace stride::cuda {

#define STRIDE_CUBLAS_CHECK(expr)                                                                       \
    do {                                                                                                \
        int st_ = static_cast<int>(expr);                                                               \
        if (st_ != 0)                                                                                   \
            throw ::stride::Error(std::string(#expr) + " failed at " + __FILE__ + ":" +                 \
                                  std::to_string(__LINE__) + ": cuBLAS status " + std::to_string(st_)); \
    } while (0)

// Checks the launch of the kernel just queued (bad configuration); faults surface at the next sync.
#define STRIDE_CUDA_LAUNCH_CHECK() STRIDE_CUDA_CHECK(cudaGetLastError())

#define STRIDE_CUDA_CHECK(expr)                                                                \
    do {                                                                                       \
        cudaError_t err_ = (expr);                                                             \
        if (err_ != cudaSuccess)                                                               \
            throw ::stride::Error(std::string(#expr) + " failed at " + __FILE__ + ":" +        \
                                  std::to_string(__LINE__) + ": " + cudaGetErrorString(err_)); \
    } while (0)

// Plain cudaMalloc'd array of T (never managed memory).
template <typename T>
class DeviceArray {
   public:
    explicit DeviceArray(size_t n) : n_(n) {
        if (n_) STRIDE_CUDA_CHECK(cudaMalloc(&ptr_, n_ * sizeof(T)));
    }
    explicit DeviceArray(const std::vector<T>& host) : DeviceArray(host.size()) { upload(host); }
    ~DeviceArray() {
        if (ptr_) cudaFree(ptr_);
    }
    DeviceArray(const DeviceArray&) = delete;
    DeviceArray& operator=(const DeviceArray&) = delete;

    T* get() { return ptr_; }
    const T* get() const { return ptr_; }
    size_t size() const { return n_; }
    void upload(const std::vector<T>& host) {
        STRIDE_CHECK(host.size() == n_, "DeviceArray::upload: size mismatch");
        if (n_) STRIDE_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
    }
    std::vector<T> download() const {
        std::vector<T> host(n_);
        if (n_) STRIDE_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
        return host;
    }

   private:
    T* ptr_ = nullptr;
    size_t n_ = 0;
};

}  // namespace stride::cuda
