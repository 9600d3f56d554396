#include "common/base/parallel.h"

#include <omp.h>

#include <strings.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>
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

const char* blas_kernel_name() {
    const char* core = openblas_get_corename();
    return core ? core : "unknown";
}

void use_portable_blas_kernels() {
    static const char* kPortable = "Haswell";
    if (strcasecmp(blas_kernel_name(), kPortable) == 0) return;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        std::fprintf(stderr, "blas_kernels: portable needs AVX2 + FMA; this CPU runs OpenBLAS's %s kernels\n",
                     blas_kernel_name());
        return;
    }
    const char* env = std::getenv("OPENBLAS_CORETYPE");
    if (env && strcasecmp(env, kPortable) == 0) return;  // already re-executed: OpenBLAS refused it
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> words;
    for (size_t at = 0; at < cmdline.size();) {
        const size_t end = cmdline.find('\0', at);
        words.push_back(cmdline.substr(at, end == std::string::npos ? std::string::npos : end - at));
        if (end == std::string::npos) break;
        at = end + 1;
    }
    if (words.empty()) return;
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    setenv("OPENBLAS_CORETYPE", kPortable, 1);
    execv("/proc/self/exe", argv.data());
    std::fprintf(stderr, "blas_kernels: portable: could not re-execute; running OpenBLAS's %s kernels\n",
                 blas_kernel_name());
}

}  // namespace stride
