// Whether a CUDA device can be used in this process. GPU tests skip cleanly when it is false.
#pragma once

namespace stride::cuda {

bool device_available();

}  // namespace stride::cuda
