// Weight sync throughput over loopback ZeroMQ vs memcpy of the same bytes, in the same run.
// Usage: bench_weight_sync [MiB=512] [endpoint=tcp://127.0.0.1:*] [chunk MiB=8]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/weight_sync.h"

using namespace stride;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
    const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 512;
    const std::string endpoint = argc > 2 ? argv[2] : "tcp://127.0.0.1:*";
    const size_t chunk_mib = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 8;
    const size_t bytes = mib << 20;

    WeightBlob blob;
    blob.version = 1;
    blob.bytes.resize(bytes);
    for (size_t i = 0; i < bytes; i += 4096) blob.bytes[i] = static_cast<char>(i);

    // Peer: memcpy of the same bytes into a fresh (touched) buffer, best of 3.
    std::vector<char> dst(bytes);
    std::memset(dst.data(), 1, bytes);
    double memcpy_s = 1e9;
    for (int r = 0; r < 3; ++r) {
        auto t0 = Clock::now();
        std::memcpy(dst.data(), blob.bytes.data(), bytes);
        memcpy_s = std::min(memcpy_s, std::chrono::duration<double>(Clock::now() - t0).count());
    }

    WeightPublisher pub("bench", endpoint, chunk_mib << 20);
    pub.publish(std::move(blob));
    // Steady state of a rollout worker: the destination buffer is reused from version to version.
    double best = 1e9;
    WeightSubscriber sub("bench", pub.endpoint());
    WeightBlob into;
    into.bytes.assign(bytes, 0);
    for (int r = 0; r < 4; ++r) {
        auto t0 = Clock::now();
        bool ok = sub.fetch_if_newer(-1, 30000, into);
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        if (!ok || into.bytes.size() != bytes) {
            std::fprintf(stderr, "fetch failed\n");
            return 1;
        }
        best = std::min(best, s);
    }
    const double gbps = bytes / best / 1e9, memcpy_gbps = bytes / memcpy_s / 1e9;
    std::printf("bytes: %zu MiB, endpoint %s\n", mib, pub.endpoint().c_str());
    std::printf("memcpy: %.2f GB/s\n", memcpy_gbps);
    std::printf("weight sync (fetch + per-chunk and whole-blob CRC-32C): %.2f GB/s\n", gbps);
    std::printf("weight sync over ZeroMQ: %.2f GB/s = %.2f of memcpy\n", gbps, gbps / memcpy_gbps);
    return 0;
}
