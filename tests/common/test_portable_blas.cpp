// `blas_kernels: portable`: a process whose OpenBLAS picked other kernels re-executes itself with
// OpenBLAS's Haswell kernels, keeping its arguments. The test runs this binary as a child that starts
// on Sandybridge kernels, so the child reports Haswell only if the re-execution happened.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "common/base/parallel.h"

namespace stride {
namespace {

std::string self_exe() {
    char path[4096];
    const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    return n > 0 ? std::string(path, static_cast<size_t>(n)) : "";
}

// Only acts as the child of the test below (the environment variable marks it).
TEST(PortableBlas, ChildReportsItsKernels) {
    if (!std::getenv("STRIDE_PORTABLE_BLAS_CHILD")) GTEST_SKIP() << "runs only as the child of the next test";
    use_portable_blas_kernels();
    std::printf("kernels=%s\n", blas_kernel_name());
}

TEST(PortableBlas, ReexecutesWithHaswellKernels) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        GTEST_SKIP() << "portable kernels need AVX2 + FMA";
    const std::string cmd = "STRIDE_PORTABLE_BLAS_CHILD=1 OPENBLAS_CORETYPE=Sandybridge '" + self_exe() +
                            "' --gtest_filter=PortableBlas.ChildReportsItsKernels 2>&1";
    FILE* child = popen(cmd.c_str(), "r");
    ASSERT_NE(child, nullptr);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, child)) out += buf;
    ASSERT_EQ(pclose(child), 0) << out;
    EXPECT_NE(out.find("kernels=Haswell"), std::string::npos) << out;
    EXPECT_EQ(out.find("kernels=Sandybridge"), std::string::npos) << out;
}

}  // namespace
}  // namespace stride
