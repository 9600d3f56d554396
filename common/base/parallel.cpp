#include "common/base/parallel.h"

#include <omp.h>

#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <thread>

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" char* openblas_get_corename(void);

namespace stride {

int num_threads() {
    static const int n = [] {
        if (const char* env = std::getenv("STRIDE_THREADS")) {
            int v = std::atoi(env);
            if (v >= 1) return v;
        }
        unsigned hw = std::thread::hardware_concurrency();
        return hw == 0 ? 1 : static_cast<int>(hw);
    }();
    return n;
}

void init_threads() {
    static std::once_flag once;
    std::call_once(once, [] {
        omp_set_num_threads(num_threads());
        openblas_set_num_threads(num_threads());
    });
}

void ensure_fast_blas_kernels(char** argv) {
    if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user's choice, or already re-executed
    const char* core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott") != 0) return;  // OpenBLAS recognised this CPU
    const char* better = nullptr;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        better = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        better = "Haswell";
    if (!better) return;
    setenv("OPENBLAS_CORETYPE", better, 1);
    execv("/proc/self/exe", argv);  // returns only on failure: carry on with the slow kernels
}

}  // namespace stride
