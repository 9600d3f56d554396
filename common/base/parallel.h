// Thread count for CPU kernels. STRIDE_THREADS overrides; default = hardware cores.
// Kernels use OpenMP loops; BLAS gets the same count.
#pragma once

namespace stride {

// Number of worker threads CPU kernels use (>= 1). Reads STRIDE_THREADS once.
int num_threads();

// Applies num_threads() to OpenMP and OpenBLAS. Call once at program start (idempotent).
void init_threads();

}  // namespace stride
