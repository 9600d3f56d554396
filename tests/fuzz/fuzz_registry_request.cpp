// libFuzzer target: arbitrary bytes as a request to the scheduler's registry (scheduler/registry.h),
// the real one over loopback TCP: it must refuse or answer it and then still answer a RoleHello
// (tests/fuzz/fuzz_peer.h). Seeds: tests/fuzz/corpus/registry_request/ (RoleHello and NcclJoin as
// roles send them, tests/fuzz/make_seeds.cpp). Run by tests/fuzz/test_fuzz.cpp in `make test`.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "scheduler/registry.h"
#include "tests/fuzz/fuzz_peer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static stride::Registry registry(
        stride::RegistryOptions{stride::fuzz::kJob, "hash", "tcp://127.0.0.1:*", 30.0, nullptr});
    static stride::fuzz::FuzzPeer peer(registry.endpoint());
    static const stride::v1::Envelope probe = [] {
        stride::v1::Envelope e = stride::make_envelope(stride::fuzz::kJob);
        stride::v1::RoleHello* h = e.mutable_role_hello();
        h->set_role("buffer");
        h->set_instance("probe:1:1");
        h->set_config_hash("hash");
        return e;
    }();
    const stride::v1::Envelope answer =
        peer.exchange(std::string_view(reinterpret_cast<const char*>(data), size), probe);
    if (!answer.has_role_welcome() && !answer.has_error())
        throw std::runtime_error(
            "fuzz: the registry answered a RoleHello with neither a welcome nor an error");
    return 0;
}
