#include <cuda_runtime.h>

#include "model/cuda/device.h"

namespace stride::cuda {

bool device_available() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();  // clear the sticky error of a machine without a driver
        return false;
    }
    return n > 0;
}

}  // namespace stride::cuda
