#include "model/weight_staging.h"

#include <algorithm>
#include <string>

#include "common/base/error.h"

namespace stride {

namespace {

void* alloc_staging(const Backend& be, size_t bytes) {
    STRIDE_CHECK(bytes >= 64, "WeightStaging: a staging buffer of " + std::to_string(bytes) +
                                  " bytes is too small (at least 64)");
    return be.alloc_host(bytes);
}

}  // namespace

WeightStaging::WeightStaging(const Backend& backend, size_t bytes)
    : be_(backend), bytes_(bytes), buf_(static_cast<unsigned char*>(alloc_staging(backend, bytes))) {}

WeightStaging::~WeightStaging() {
    try {
        finish();  // no copy may still read the buffer when it is freed
    } catch (...) {
    }
    be_.free_host(buf_);
}

void WeightStaging::put(void* dst, size_t count, size_t elem_bytes, const Fill& fill) {
    STRIDE_CHECK(
        elem_bytes > 0 && elem_bytes <= bytes_,
        "WeightStaging: element of " + std::to_string(elem_bytes) + " bytes does not fit the staging buffer");
    auto* out = static_cast<unsigned char*>(dst);
    size_t first = 0;
    while (first < count) {
        if (bytes_ - used_ < elem_bytes) {
            be_.sync();  // every copy out of the buffer is done: it may be overwritten
            used_ = 0;
            ++flushes_;
        }
        const size_t n = std::min(count - first, (bytes_ - used_) / elem_bytes);
        fill(buf_ + used_, first, n);
        be_.copy(out + first * elem_bytes, buf_ + used_, n * elem_bytes);
        used_ += n * elem_bytes;
        first += n;
    }
}

void WeightStaging::finish() {
    be_.sync();
    used_ = 0;
}

}  // namespace stride
