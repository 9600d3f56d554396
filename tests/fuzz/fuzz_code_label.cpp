// libFuzzer target: arbitrary bytes as a code_exec label (its tests, reward/code_exec/) and as a
// response to take a program from. Both must succeed or throw stride::Error.
// Run by tests/fuzz/test_fuzz.cpp (a bounded mutation loop in `make test`).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/base/error.h"
#include "reward/code_exec/code_exec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        (void)stride::parse_code_tests(text);
    } catch (const stride::Error&) {
    }
    try {
        (void)stride::extract_program(text);
    } catch (const stride::Error&) {
    }
    return 0;
}
