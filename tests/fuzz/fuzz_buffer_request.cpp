// libFuzzer target: arbitrary bytes as a request to the experience buffer (buffer/buffer_server.h), a
// real server over loopback TCP on a real RocksDB store: it must refuse or serve it and then still
// answer a StatsRequest (tests/fuzz/fuzz_peer.h). Seeds: tests/fuzz/corpus/buffer_request/ (the
// requests rollout workers and the trainer send, tests/fuzz/make_seeds.cpp).
// Run by tests/fuzz/test_fuzz.cpp (a bounded mutation loop in `make test`).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "buffer/buffer_config.h"
#include "buffer/buffer_server.h"
#include "tests/fuzz/fuzz_peer.h"

namespace {

struct Harness {
    stride::fuzz::ScratchDir dir{"buffer"};
    std::unique_ptr<stride::BufferServer> server;
    std::unique_ptr<stride::fuzz::FuzzPeer> peer;
    Harness() {
        stride::BufferServerConfig cfg;
        cfg.job_id = stride::fuzz::kJob;
        cfg.endpoint = "tcp://127.0.0.1:*";
        cfg.dir = dir.path() + "/buffer.rocksdb";
        cfg.group_size = 4;
        cfg.sync_wal = false;
        cfg.capacity_samples = 4096;
        cfg.vocab_size = 1000;
        cfg.max_position = 4096;
        cfg.max_response_tokens = 1024;
        cfg.max_sample_bytes = 1 << 20;
        cfg.lease_timeout_ms = 200;  // leases the fuzzer takes come back soon
        server = std::make_unique<stride::BufferServer>(cfg);
        server->start();
        peer = std::make_unique<stride::fuzz::FuzzPeer>(server->endpoint());
    }
    ~Harness() {
        peer.reset();
        server.reset();  // stops and joins before the directory goes
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Harness h;
    static const stride::v1::Envelope probe = [] {
        stride::v1::Envelope e = stride::make_envelope(stride::fuzz::kJob);
        e.mutable_stats_request();
        return e;
    }();
    const stride::v1::Envelope answer =
        h.peer->exchange(std::string_view(reinterpret_cast<const char*>(data), size), probe);
    if (!answer.has_buffer_stats() && !answer.has_error())
        throw std::runtime_error("fuzz: the buffer answered a StatsRequest with neither stats nor an error");
    return 0;
}
