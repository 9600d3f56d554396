// One allocation on a backend's device, owned (RAII). Parameters, activation arenas and the KV pool
// are each one of these; views into them are carved by the owner.
#pragma once
#include <cstddef>
#include <utility>

#include "model/backend.h"

namespace stride {

class DeviceBuffer {
   public:
    DeviceBuffer() = default;
    DeviceBuffer(const Backend& be, size_t bytes) : be_(&be) { grow(bytes); }
    ~DeviceBuffer() { release(); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
        if (this != &o) {
            release();
            be_ = o.be_, ptr_ = o.ptr_, bytes_ = o.bytes_;
            o.ptr_ = nullptr, o.bytes_ = 0;
        }
        return *this;
    }

    void set_backend(const Backend& be) {
        if (be_ != &be) release();
        be_ = &be;
    }
    // At least `bytes` bytes afterwards; contents are not preserved when it grows (arenas re-lay out).
    void grow(size_t bytes) {
        if (bytes <= bytes_) return;
        release();
        ptr_ = be_->alloc(bytes);
        bytes_ = bytes;
    }
    void zero() {
        if (ptr_) be_->zero(ptr_, bytes_);
    }

    void* get() const { return ptr_; }
    template <class T>
    T* as() const {
        return static_cast<T*>(ptr_);
    }
    size_t bytes() const { return bytes_; }
    const Backend* backend() const { return be_; }

   private:
    void release() {
        if (ptr_) be_->free(ptr_);
        ptr_ = nullptr, bytes_ = 0;
    }
    const Backend* be_ = &cpu_backend();
    void* ptr_ = nullptr;
    size_t bytes_ = 0;
};

}  // namespace stride
