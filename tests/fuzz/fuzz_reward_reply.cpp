// libFuzzer target: arbitrary bytes as the `scores` frame a reward worker sends back over the reward
// bridge (reward/plugin/plugin_protocol.h read_scores), checked against a request of 4 samples with
// none or 2 of them already reported. A reply is taken whole or refused; one that is taken never
// carries more results than the samples left. Seeds: tests/fuzz/corpus/reward_reply/ (RewardReply as
// the workers send them, tests/fuzz/make_seeds.cpp). Run by tests/fuzz/test_fuzz.cpp in `make test`;
// bench/fuzz.sh builds it alone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "reward/plugin/plugin_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    for (size_t next : {0u, 2u}) {
        const auto results =
            stride::reward_wire::read_scores(bytes, /*request_id=*/7, next, /*n_items=*/4, "f.py");
        if (results && results->size() > 4 - next) std::abort();
    }
    return 0;
}
