// CUDA RMSNorm against the CPU reference (model/ops/rmsnorm.cpp), on ragged row widths. Skips when
// no GPU is present (CI), runs on the GPU machine.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/cuda/cuda_check.h"
#include "model/cuda/device.h"
#include "model/cuda/rmsnorm.h"
#include "model/ops/rmsnorm.h"

using namespace stride;

namespace {

std::vector<float> random_vector(size_t n, uint64_t seed, float lo = -2.0f, float hi = 2.0f) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

// |a - b| <= tol + |b| * rel, the llm.c form.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol, float rel) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i)
        ASSERT_LE(std::fabs(got[i] - want[i]), tol + std::fabs(want[i]) * rel) << "at " << i;
}

}  // namespace

TEST(CudaRmsnorm, ForwardAndBackwardMatchCpu) {
    if (!cuda::device_available()) GTEST_SKIP() << "no CUDA device";
    for (int C : {1, 31, 128, 896, 1537}) {
        const int T = 37;
        auto x = random_vector(size_t(T) * C, 1 + C);
        auto w = random_vector(C, 2 + C, 0.5f, 1.5f);
        auto g = random_vector(size_t(T) * C, 3 + C);
        std::vector<float> out(x.size()), rstd(T), dx(x.size(), 0.0f), dw(C, 0.0f);
        rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), T, C, 1e-6f);
        rmsnorm_backward(dx.data(), dw.data(), g.data(), x.data(), w.data(), rstd.data(), T, C);

        cuda::DeviceArray<float> d_x(x), d_w(w), d_g(g), d_out(x.size()), d_rstd(T);
        cuda::DeviceArray<float> d_dx(std::vector<float>(x.size(), 0.0f)), d_dw(std::vector<float>(C, 0.0f));
        cuda::rmsnorm_forward(d_out.get(), d_rstd.get(), d_x.get(), d_w.get(), T, C, 1e-6f);
        cuda::DeviceArray<float> d_scratch(cuda::rmsnorm_backward_scratch_floats(T, C));
        cuda::rmsnorm_backward(d_dx.get(), d_dw.get(), d_g.get(), d_x.get(), d_w.get(), d_rstd.get(), T, C,
                               d_scratch.get());
        STRIDE_CUDA_CHECK(cudaDeviceSynchronize());
        expect_close(d_out.download(), out, 1e-5f, 1e-5f);
        expect_close(d_rstd.download(), rstd, 1e-5f, 1e-5f);
        expect_close(d_dx.download(), dx, 1e-4f, 1e-4f);
        expect_close(d_dw.download(), dw, 1e-3f, 1e-4f);
    }
}
