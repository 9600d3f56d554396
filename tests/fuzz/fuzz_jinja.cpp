// libFuzzer target: arbitrary bytes as a chat template (common/jinja/), parsed and rendered with a
// conversation under tight limits. Parse and render must succeed or throw stride::Error.
// Run by tests/fuzz/test_fuzz.cpp (a bounded mutation loop in `make test`).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/base/error.h"
#include "common/jinja/jinja.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const nlohmann::ordered_json context = nlohmann::ordered_json::parse(R"({
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "1+1?"},
                     {"role": "assistant", "content": "2", "tool_calls": [{"name": "f", "arguments": {"x": 1}}]}],
        "tools": [{"name": "f", "parameters": {"type": "object"}}],
        "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
    stride::jinja::Limits limits;
    limits.max_steps = 200'000;  // keeps every input fast; the limits themselves are under test too
    limits.max_output_bytes = 1u << 20;
    limits.max_list_items = 1u << 16;
    try {
        const stride::jinja::Template t(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz",
                                        limits);
        (void)t.render(context);
    } catch (const stride::Error&) {
    }
    return 0;
}
