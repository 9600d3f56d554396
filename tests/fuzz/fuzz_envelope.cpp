// libFuzzer target: arbitrary bytes as a message from the network: the envelope check every role runs
// first (common/messaging.h decode_envelope), the Error reply it would send back, and for samples the
// buffer's door check (buffer/sample_check.h). None may crash or throw.
// Run by tests/fuzz/test_fuzz.cpp (a bounded mutation loop in `make test`).
#include <cstddef>
#include <cstdint>
#include <string>

#include "buffer/buffer_config.h"
#include "buffer/sample_check.h"
#include "common/messaging.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const stride::BufferServerConfig cfg = [] {
        stride::BufferServerConfig c;
        c.job_id = "job";
        c.group_size = 4;
        return c;
    }();
    stride::v1::Envelope env;
    const stride::EnvelopeCheck check =
        stride::decode_envelope(std::string_view(reinterpret_cast<const char*>(data), size), "job", &env);
    if (!check.ok()) {
        (void)stride::encode_envelope(stride::make_rejection(check));
        return 0;
    }
    if (env.has_put_samples())
        for (const stride::v1::Sample& s : env.put_samples().samples())
            (void)stride::check_sample(s, cfg, true);
    return 0;
}
