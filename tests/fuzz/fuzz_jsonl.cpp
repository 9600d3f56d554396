// libFuzzer target: arbitrary bytes as one JSONL dataset line (job/dataset.h), with the chat template
// `qwen` so message lists are rendered too. It must give an example or throw stride::Error.
// Run by tests/fuzz/test_fuzz.cpp (a bounded mutation loop in `make test`).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/base/error.h"
#include "job/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string line(reinterpret_cast<const char*>(data), size);
    for (const char* tmpl : {"none", "qwen"}) {
        stride::DatasetKeys keys;
        keys.chat_template = tmpl;
        try {
            (void)stride::parse_example_line(line, "fuzz.jsonl:1", keys);
        } catch (const stride::Error&) {
        }
    }
    return 0;
}
