// libFuzzer target: arbitrary bytes as a job config (YAML), through the whole loader (schema, types,
// ranges, cross-key rules, algorithm presets). It must load or throw stride::Error naming the problem;
// anything else (a crash, a yaml-cpp or std exception escaping) is a bug.
// Run by tests/fuzz/test_fuzz.cpp (a bounded mutation loop in `make test`) and, with clang,
// tests/fuzz/build_and_run.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/base/error.h"
#include "scheduler/job_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const std::string text(reinterpret_cast<const char*>(data), size);
        (void)stride::parse_job_config(text, "fuzz.yaml");
    } catch (const stride::Error&) {
    }
    return 0;
}
