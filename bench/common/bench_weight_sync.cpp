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
    // Best of 4 fetches of the whole version, through each data path.
    auto best_fetch = [&](bool shared_memory) {
        WeightSubscriber sub("bench", pub.endpoint(), 8, shared_memory);
        WeightBlob into;
        into.bytes.assign(bytes, 0);
        double best = 1e9;
        for (int r = 0; r < 4; ++r) {
            WeightFetchStats st;
            auto t0 = Clock::now();
            bool ok = sub.fetch_if_newer(-1, 30000, into, &st);
            const double s = std::chrono::duration<double>(Clock::now() - t0).count();
            if (!ok || into.bytes.size() != bytes || st.shared_memory != shared_memory) {
                std::fprintf(stderr, "fetch failed\n");
                std::exit(1);
            }
            best = std::min(best, s);
        }
        return bytes / best / 1e9;
    };
    const double chunks_gbps = best_fetch(false);
    const double shm_gbps = best_fetch(true);
    const double memcpy_gbps = bytes / memcpy_s / 1e9;
    std::printf("bytes: %zu MiB, endpoint %s, chunks of %zu MiB\n", mib, pub.endpoint().c_str(), chunk_mib);
    std::printf("memcpy: %.2f GB/s\n", memcpy_gbps);
    std::printf("chunks over ZeroMQ (another machine's path; CRC-32C per chunk): %.2f GB/s = %.2f of memcpy\n",
                chunks_gbps, chunks_gbps / memcpy_gbps);
    std::printf("same machine (ZeroMQ control + memory file, whole-blob CRC-32C): %.2f GB/s = %.2f of memcpy\n",
                shm_gbps, shm_gbps / memcpy_gbps);
    std::printf("weight sync to a worker on this machine: %.2f GB/s = %.2f of memcpy (chunks over ZeroMQ: %.2f)\n",
                shm_gbps, shm_gbps / memcpy_gbps, chunks_gbps / memcpy_gbps);
    return 0;
}
