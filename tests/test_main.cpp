// main() of every test binary: GoogleTest's, after making sure OpenBLAS runs its fast kernels (see
// ensure_fast_blas_kernels), so the suite's run time does not depend on OpenBLAS knowing the CPU.
#include <gtest/gtest.h>

#include "common/base/parallel.h"

int main(int argc, char** argv) {
    stride::ensure_fast_blas_kernels(argv);
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
