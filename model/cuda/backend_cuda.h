// The CUDA backend: the Backend table (model/backend.h) filled with the kernels of model/cuda/, on
// the process's device context (model/cuda/context.h). Every entry has a kernel, forward and backward.
#pragma once
#include <string>

#include "model/backend.h"

namespace stride::cuda {

const Backend& cuda_backend();
// Empty when a CUDA device can be used, else why not (no driver, no visible device).
std::string device_unavailable_reason();

}  // namespace stride::cuda
