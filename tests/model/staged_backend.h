// The CPU-staged backend: the CPU kernels behind a table that says its memory is not the host's
// (host_memory = false), so every caller takes its device path (uploads, copies back, device-side
// gradient and optimizer buffers) on a machine without a GPU. Results must equal the CPU backend's
// bit for bit: the kernels are the same, only the copies are added.
#pragma once
#include "model/backend.h"

namespace stride::test {

inline const Backend& staged_backend() {
    static const Backend b = [] {
        Backend x = cpu_backend();
        x.name = "cpu-staged";
        x.host_memory = false;
        return x;
    }();
    return b;
}

}  // namespace stride::test
