// libFuzzer target: arbitrary bytes as a request to the trainer's weight publisher
// (common/weight_sync.h), its real serve loop over loopback TCP with a version published: it must
// serve or drop the request and then still answer a Heartbeat with the WeightUpdate
// (tests/fuzz/fuzz_peer.h). Seeds: tests/fuzz/corpus/weight_serve/ (Heartbeat and WeightChunk requests
// as subscribers send them, tests/fuzz/make_seeds.cpp). Run by tests/fuzz/test_fuzz.cpp in `make test`.
#include <cstddef>
#include <cstdint>

#include "common/weight_sync.h"
#include "tests/fuzz/fuzz_peer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static stride::WeightPublisher pub(stride::fuzz::kJob, "tcp://127.0.0.1:*", /*chunk_bytes=*/64,
                                       /*share_memory=*/false);
    static const bool published = [] {
        stride::WeightBlob blob;
        blob.version = 3;
        blob.bytes.assign(200, 'w');  // four chunks, the last one short
        pub.publish(std::move(blob));
        return true;
    }();
    (void)published;
    static stride::fuzz::FuzzPeer peer(pub.endpoint());
    static const stride::v1::Envelope probe = [] {
        stride::v1::Envelope e = stride::make_envelope(stride::fuzz::kJob);
        e.mutable_heartbeat()->set_policy_version(0);
        return e;
    }();
    const stride::v1::Envelope answer =
        peer.exchange(std::string_view(reinterpret_cast<const char*>(data), size), probe);
    if (!answer.has_weight_update() || answer.weight_update().version() != 3)
        throw std::runtime_error("fuzz: the publisher answered a Heartbeat without version 3's WeightUpdate");
    return 0;
}
