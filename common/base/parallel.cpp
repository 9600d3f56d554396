#include "common/base/parallel.h"

#include <omp.h>

#include <cstdlib>
#include <mutex>
#include <thread>

extern "C" void openblas_set_num_threads(int num_threads);

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

}  // namespace stride
