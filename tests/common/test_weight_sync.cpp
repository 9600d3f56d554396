// Weight sync over real loopback ZeroMQ sockets: versions, chunking, checksums, bad peers.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zmq.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>

#include "common/base/crc32c.h"
#include "common/base/error.h"
#include "common/weight_sync.h"

using namespace stride;

namespace {

WeightBlob random_blob(int64_t version, size_t bytes, uint64_t seed) {
    WeightBlob b;
    b.version = version;
    b.bytes.resize(bytes);
    std::mt19937_64 rng(seed);
    for (auto& c : b.bytes) c = static_cast<char>(rng());
    v1::TensorInfo t;
    t.set_name("model.embed_tokens.weight");
    t.set_dtype("F32");
    t.add_shape(static_cast<int64_t>(bytes / 4));
    t.set_byte_size(bytes);
    b.tensors.push_back(t);
    return b;
}

}  // namespace

TEST(Crc32c, KnownVector) {
    // RFC 3720 test vector: 32 bytes of zeros.
    std::vector<char> zeros(32, 0);
    EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
    const char* s = "123456789";
    EXPECT_EQ(crc32c(s, 9), 0xE3069283u);
    // Incremental == one shot.
    EXPECT_EQ(crc32c(s + 4, 5, crc32c(s, 4)), 0xE3069283u);
}

class WeightSyncPaths : public ::testing::TestWithParam<bool> {};

// Both data paths: the same-host memory file, and chunks over ZeroMQ (what a worker on another
// machine gets).
INSTANTIATE_TEST_SUITE_P(SharedMemoryAndChunks, WeightSyncPaths, ::testing::Bool());

TEST_P(WeightSyncPaths, FetchesNewerVersionsOnlyAndExactly) {
    const bool shm = GetParam();
    WeightPublisher pub("job-a", "tcp://127.0.0.1:*", /*chunk_bytes=*/64 * 1024, shm);
    WeightSubscriber sub("job-a", pub.endpoint(), /*window=*/4, shm);
    // Nothing published yet.
    auto none = sub.latest(2000);
    ASSERT_TRUE(none.has_value());
    EXPECT_EQ(none->version(), -1);
    EXPECT_FALSE(sub.fetch_if_newer(-1, 2000).has_value());

    WeightBlob v1 = random_blob(1, 1000 * 1000 + 13, 1);  // not a multiple of the chunk size
    const std::vector<char> expect1 = v1.bytes;
    pub.publish(std::move(v1));
    WeightFetchStats stats;
    auto got = sub.fetch_if_newer(0, 5000, &stats);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->version, 1);
    EXPECT_EQ(got->bytes, expect1);
    EXPECT_EQ(got->tensors.size(), 1u);
    EXPECT_EQ(stats.shared_memory, shm);
    EXPECT_EQ(stats.chunks, shm ? 0u : (expect1.size() + 65535) / 65536);
    EXPECT_FALSE(sub.fetch_if_newer(1, 2000).has_value());

    WeightBlob v2 = random_blob(2, 70000, 2);
    const std::vector<char> expect2 = v2.bytes;
    pub.publish(std::move(v2));
    auto got2 = sub.fetch_if_newer(1, 5000);
    ASSERT_TRUE(got2.has_value());
    EXPECT_EQ(got2->bytes, expect2);
    EXPECT_THROW(pub.publish(random_blob(2, 10, 3)), Error);  // versions only increase
}

TEST(WeightSync, EmptyBlobAndManySubscribers) {
    WeightPublisher pub("job-b", "tcp://127.0.0.1:*", 4096);
    pub.publish(random_blob(5, 0, 0));
    WeightSubscriber a("job-b", pub.endpoint()), b("job-b", pub.endpoint());
    auto ga = a.fetch_if_newer(-1, 2000);
    ASSERT_TRUE(ga.has_value());
    EXPECT_TRUE(ga->bytes.empty());
    pub.publish(random_blob(6, 50000, 4));
    auto gb = b.fetch_if_newer(-1, 2000);
    auto ga2 = a.fetch_if_newer(5, 2000);
    ASSERT_TRUE(gb && ga2);
    EXPECT_EQ(gb->bytes, ga2->bytes);
}

// weights.transport: nccl: the announcement names the NCCL generation that broadcasts the version, and
// a worker that will receive it there (set_skip) does not fetch it; versions over ZeroMQ only it does.
TEST(WeightSync, AVersionAnnouncedForTheNcclGroupIsSkippedByItsMembersOnly) {
    WeightPublisher pub("job-n", "tcp://127.0.0.1:*", 4096, false);
    WeightBlob v1 = random_blob(1, 20000, 5);
    v1.nccl_generation = 3;
    pub.publish(v1);
    WeightSubscriber member("job-n", pub.endpoint()), other("job-n", pub.endpoint());
    member.set_skip([](const v1::WeightUpdate& u) { return u.nccl() && u.nccl_generation() == 3; });
    auto u = member.latest(2000);
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->nccl());
    EXPECT_EQ(u->nccl_generation(), 3);
    EXPECT_FALSE(member.fetch_if_newer(-1, 2000)) << "fetched a version the NCCL group delivers";
    auto got = other.fetch_if_newer(-1, 2000);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->bytes, v1.bytes);
    pub.publish(random_blob(2, 3000, 6));  // over ZeroMQ only (nccl_generation -1)
    auto u2 = member.latest(2000);
    ASSERT_TRUE(u2);
    EXPECT_FALSE(u2->nccl());
    auto got2 = member.fetch_if_newer(-1, 2000);
    ASSERT_TRUE(got2);
    EXPECT_EQ(got2->version, 2);
}

TEST(WeightSync, OtherJobIsRejectedAndCounted) {
    WeightPublisher pub("job-c", "tcp://127.0.0.1:*");
    pub.publish(random_blob(1, 100, 1));
    WeightSubscriber intruder("another-job", pub.endpoint());
    EXPECT_THROW(intruder.latest(2000), Error);
    try {
        intruder.latest(2000);
    } catch (const Error& e) {  // the refusal does not tell the intruder the job id (issue #20)
        EXPECT_EQ(std::string(e.what()).find("job-c"), std::string::npos) << e.what();
    }
    EXPECT_GE(pub.rejected(), 1u);
    // The publisher still serves its own job afterwards.
    WeightSubscriber ok("job-c", pub.endpoint());
    EXPECT_TRUE(ok.fetch_if_newer(0, 2000).has_value());
}

TEST(WeightSync, NoPublisherTimesOut) {
    WeightSubscriber sub("job-d", "tcp://127.0.0.1:1");  // nothing listens on port 1
    EXPECT_FALSE(sub.latest(100).has_value());
    EXPECT_FALSE(sub.fetch_if_newer(-1, 100).has_value());
}

TEST(Crc32c, CopyVariantCopiesAndAgrees) {
    std::vector<char> src(1000 + 13), dst(src.size(), 0);
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<char>(i * 31 + 7);
    for (size_t n : {size_t(0), size_t(1), size_t(31), size_t(32), size_t(33), src.size()}) {
        std::fill(dst.begin(), dst.end(), 0);
        EXPECT_EQ(crc32c_copy(dst.data(), src.data(), n), crc32c(src.data(), n)) << n;
        EXPECT_TRUE(std::equal(src.begin(), src.begin() + n, dst.begin())) << n;
    }
}

TEST(WeightSync, ShmPathMustBeAProcFdPath) {
    for (const char* p : {"/proc/1/fd/0", "/proc/12345/fd/17", "/proc/4294967/fd/1023"})
        EXPECT_TRUE(is_weight_shm_path(p)) << p;
    for (const char* p : {"", "/etc/passwd", "/proc/self/fd/3", "/proc/0/fd/3", "/proc/01/fd/3",
                          "/proc/1/fd/", "/proc//fd/3", "/proc/1/fd/3/", "/proc/1/fd/../../../etc/passwd",
                          "/proc/1/fd/3x", "/proc/1/root/etc/passwd", "proc/1/fd/3", "/proc/1/fd/-1",
                          "/proc/12345678901/fd/3", "/dev/shm/stride-weights", "/proc/1/fd/3\n"})
        EXPECT_FALSE(is_weight_shm_path(p)) << p;
}

namespace {

// A publisher that announces `shm_path` for a blob of `bytes` and refuses every chunk: a worker that
// fetches successfully took the weights from that path.
void serve_announcing(ZmqSocket& router, const std::string& shm_path, const std::vector<char>& bytes,
                      const std::atomic<bool>& stop) {
    while (!stop) {
        auto frames = router.recv_frames(20);
        if (!frames || frames->size() != 2) continue;
        v1::Envelope in, out = make_envelope("job-e");
        ASSERT_TRUE(decode_envelope((*frames)[1], "job-e", &in).ok());
        if (in.has_heartbeat()) {
            v1::WeightUpdate* u = out.mutable_weight_update();
            u->set_version(1);
            u->set_total_bytes(bytes.size());
            u->set_crc32(crc32c(bytes.data(), bytes.size()));
            u->set_shm_path(shm_path);
        } else {
            out = make_error("job-e", v1::ERROR_CODE_INVALID_ARGUMENT, "no chunks here");
        }
        router.send_frames({(*frames)[0], encode_envelope(out)}, 1000);
    }
}

}  // namespace

TEST(WeightSync, SubscriberOpensOnlyAMemfdAtAProcFdPath) {
    const std::vector<char> bytes(4096, 'w');
    const std::string file = ::testing::TempDir() + "/stride_not_weights_" + std::to_string(::getpid());
    {
        std::FILE* f = std::fopen(file.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fwrite(bytes.data(), 1, bytes.size(), f);
        std::fclose(f);
    }
    const int fd = ::open(file.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    // A plain path, and a path of the right form that leads to a regular file rather than a memfd:
    // both are refused, so the worker asks for chunks (which this publisher refuses).
    for (const std::string& path : {file, "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(fd),
                                    std::string("/dev/zero")}) {
        ZmqContext ctx;
        ZmqSocket router(ctx, ZMQ_ROUTER);
        router.bind("tcp://127.0.0.1:*");
        std::atomic<bool> stop{false};
        std::thread t([&] { serve_announcing(router, path, bytes, stop); });
        WeightSubscriber sub("job-e", router.last_endpoint());
        WeightFetchStats stats;
        EXPECT_THROW(sub.fetch_if_newer(0, 2000, &stats), Error) << path;
        EXPECT_FALSE(stats.shared_memory) << path;
        stop = true;
        t.join();
    }
    ::close(fd);
    std::remove(file.c_str());
}
