// libFuzzer target: arbitrary bytes as a response and a label (split at the first NUL byte) for the
// math reward's answer parser and verifier (reward/math/). It must return a verdict, never crash;
// stride::Error is allowed.
// Run by tests/fuzz/test_fuzz.cpp (a bounded mutation loop in `make test`).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/base/error.h"
#include "reward/math/math_answer.h"
#include "reward/math/math_verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string all(reinterpret_cast<const char*>(data), size);
    const size_t cut = all.find('\0');
    const std::string response = all.substr(0, cut);
    const std::string label = cut == std::string::npos ? "42" : all.substr(cut + 1);
    try {
        (void)stride::verify_math_response(response, label);
        (void)stride::extract_response_answer(response);
        (void)stride::normalize_math_answer(response);
    } catch (const stride::Error&) {
    }
    return 0;
}
