// libFuzzer target: arbitrary bytes as a tokenizer.json. A tokenizer that loads must also encode and
// decode a fixed text; anything but success or stride::Error is a bug.
// Run by tests/fuzz/test_fuzz.cpp (a bounded mutation loop in `make test`).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/base/error.h"
#include "model/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const std::string_view text(reinterpret_cast<const char*>(data), size);
        const stride::Tokenizer tok = stride::Tokenizer::from_json_text(text, "fuzz/tokenizer.json");
        const std::vector<int> ids = tok.encode("12+34=46 <|endoftext|> héllo\n");
        (void)tok.decode(ids);
    } catch (const stride::Error&) {
    }
    return 0;
}
