#include "model/cuda/context.h"
#include "model/cuda/cuda_check.h"

namespace stride::cuda {

Context& context() {
    static Context* ctx = [] {
        auto* c = new Context();  // never freed: kernels may run until process exit
        STRIDE_CUDA_CHECK(cudaGetDevice(&c->device));
        STRIDE_CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
        STRIDE_CUBLAS_CHECK(cublasCreate(&c->blas));
        STRIDE_CUBLAS_CHECK(cublasSetStream(c->blas, c->stream));
        return c;
    }();
    return *ctx;
}

void* workspace_at_least(size_t bytes) {
    Context& c = context();
    if (bytes > c.workspace_bytes) {
        // Stream order: a kernel queued earlier may still read the old scratch.
        STRIDE_CUDA_CHECK(cudaStreamSynchronize(c.stream));
        if (c.workspace) STRIDE_CUDA_CHECK(cudaFree(c.workspace));
        c.workspace = nullptr;
        STRIDE_CUDA_CHECK(cudaMalloc(&c.workspace, bytes));
        c.workspace_bytes = bytes;
    }
    return c.workspace;
}

void set_matmul_precision(MatmulPrecision p) {
    context().precision = p;
}

}  // namespace stride::cuda
