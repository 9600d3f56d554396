// libFuzzer target: arbitrary bytes as a whole safetensors file. The header parser must either accept
// the file or throw stride::Error; anything else (a crash, an ASan/UBSan report, another exception
// type) is a bug. Accepted files are also converted to floats, so that a tensor span the validation
// let through but that lies outside the input shows up as a heap-buffer-overflow.
//
// Not part of the CMake build: tests/fuzz/build_and_run.sh compiles it with clang++ -fsanitize=fuzzer.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/base/error.h"
#include "model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const stride::SafetensorsHeader h =
            stride::safetensors_parse_header(data, size, size, "fuzz.safetensors");
        for (const stride::SafetensorsTensor& t : h.tensors) {
            if (t.dtype != "F32" && t.dtype != "BF16" && t.dtype != "F16") continue;
            std::vector<float> out(t.numel);  // bounded: the span was checked against `size`
            stride::safetensors_convert_f32(t, data + h.data_start + t.begin, out.data(), "fuzz.safetensors");
        }
    } catch (const stride::Error&) {
        // Rejected with a message: the expected outcome for most inputs.
    }
    return 0;
}
