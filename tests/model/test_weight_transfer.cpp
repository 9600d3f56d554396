// tests/model/test_weight_transfer.cpp: the weight orchestration of the NCCL path (model/weight_transfer.h)
// on the CPU, over a channel whose ranks are threads (fake_weight_channel.h): bf16 on the wire, a
// version returned only after its last bucket and its CRC-32C check, a corrupted bucket refused, a
// silent peer or a dead root aborting within the deadline, stop honoured mid-transfer.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <random>
#include <thread>

#include "model/weight_transfer.h"
#include "tests/model/fake_weight_channel.h"

namespace stride {
namespace {

using Clock = std::chrono::steady_clock;
using test::FakeBus;
using test::FakeWeightChannel;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<float> random_weights(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, 0.05f);
    std::vector<float> w(n);
    for (float& x : w) x = dist(rng);
    return w;
}

TransferOptions options(size_t bucket_elems, double timeout_s = 30, const std::atomic<bool>* stop = nullptr) {
    TransferOptions o;
    o.bucket_elems = bucket_elems;
    o.timeout_s = timeout_s;
    o.stop = stop;
    return o;
}

// A receiver on its own thread: its result or its error.
struct Receiver {
    std::shared_ptr<FakeBus> bus;
    FakeWeightChannel ch;
    std::vector<float> got;
    WeightWireHeader header;
    std::string error;
    bool deadline = false;
    std::atomic<bool> returned{false};
    std::thread thread;
    Receiver(std::shared_ptr<FakeBus> b, int rank, size_t expect, TransferOptions opt) : bus(b), ch(b, rank) {
        thread = std::thread([this, expect, opt] {
            try {
                header = receive_weight_version(ch, got, expect, opt);
            } catch (const DeadlineError& e) {
                error = e.what();
                deadline = true;
            } catch (const std::exception& e) {
                error = e.what();
            }
            returned = true;
        });
    }
    ~Receiver() {
        if (thread.joinable()) thread.join();
    }
};

TEST(WeightTransfer, EveryRankGetsTheVersionInBf16ChecksummedOverTheWire) {
    const std::vector<float> w = random_weights(10007, 1);  // the last bucket is partial
    auto bus = std::make_shared<FakeBus>();
    bus->nranks = 3;
    auto r1 = std::make_unique<Receiver>(bus, 1, w.size(), options(777));
    auto r2 = std::make_unique<Receiver>(bus, 2, 0, options(777));
    FakeWeightChannel root(bus, 0);
    send_weight_version(root, 4, w.data(), w.size(), bf16_wire_crc32c(w.data(), w.size()), 9, options(777));
    r1->thread.join();
    r2->thread.join();
    for (Receiver* r : {r1.get(), r2.get()}) {
        ASSERT_EQ(r->error, "");
        EXPECT_EQ(r->header.version, 4);
        EXPECT_EQ(r->header.tensors, 9u);
        EXPECT_EQ(r->header.buckets, weight_bucket_count(w.size(), 777));
        ASSERT_EQ(r->got.size(), w.size());
        for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(r->got[i], bf16_to_f32(f32_to_bf16(w[i]))) << i;
    }
    EXPECT_EQ(root.calls(), 1 + weight_bucket_count(w.size(), 777));  // the header, then one per bucket
    EXPECT_FALSE(root.broken());
}

// The root is held before its last bucket: the receiver has every other one and still has no version.
TEST(WeightTransfer, AVersionIsReturnedOnlyAfterItsLastBucket) {
    const std::vector<float> w = random_weights(4000, 2);
    auto bus = std::make_shared<FakeBus>();
    Receiver r(bus, 1, w.size(), options(1000));
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    // A channel that waits for `release` before its 4th bucket.
    struct Gated : FakeWeightChannel {
        using FakeWeightChannel::FakeWeightChannel;
        std::function<void()> before_last;
        int sent = 0;
        void send_bucket(const float* src, size_t count, const std::string& what,
                         const CallDeadline& d) override {
            if (++sent == 4) before_last();
            FakeWeightChannel::send_bucket(src, count, what, d);
        }
    } root(bus, 0);
    std::atomic<bool> held{false};
    root.before_last = [&] {
        held = true;
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return release; });
    };
    std::thread sender([&] {
        send_weight_version(root, 1, w.data(), w.size(), bf16_wire_crc32c(w.data(), w.size()), 1,
                            options(1000));
    });
    while (!held) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // time for a receiver that returns early
    EXPECT_FALSE(r.returned) << "returned with 3 of 4 buckets";
    {
        std::lock_guard<std::mutex> lock(mu);
        release = true;
    }
    cv.notify_all();
    sender.join();
    r.thread.join();
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.header.version, 1);
}

TEST(WeightTransfer, ACorruptedBucketIsRefusedAndTheVersionNotReturned) {
    const std::vector<float> w = random_weights(5000, 3);
    auto bus = std::make_shared<FakeBus>();
    bus->corrupt_bucket = 2;
    Receiver r(bus, 1, w.size(), options(1000));
    FakeWeightChannel root(bus, 0);
    send_weight_version(root, 7, w.data(), w.size(), bf16_wire_crc32c(w.data(), w.size()), 1, options(1000));
    r.thread.join();
    EXPECT_FALSE(r.deadline);
    EXPECT_NE(r.error.find("version 7 arrived with CRC-32C"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("not used"), std::string::npos) << r.error;
}

TEST(WeightTransfer, AHeaderForAnotherModelIsRefusedNamingBothSizes) {
    const std::vector<float> w = random_weights(300, 4);
    auto bus = std::make_shared<FakeBus>();
    Receiver r(bus, 1, 301, options(100));
    FakeWeightChannel root(bus, 0);
    try {
        send_weight_version(root, 2, w.data(), w.size(), bf16_wire_crc32c(w.data(), w.size()), 1,
                            options(100, 1));
    } catch (const DeadlineError&) {
        // the receiver left after the header: the first bucket has no taker
    }
    r.thread.join();
    EXPECT_NE(r.error.find("has 300 weights, this worker's model needs 301"), std::string::npos) << r.error;
}

TEST(WeightTransfer, ASilentPeerMakesTheRootAbortWithinTheDeadline) {
    const std::vector<float> w = random_weights(2000, 5);
    auto bus = std::make_shared<FakeBus>();
    bus->nranks = 3;  // rank 2 never calls
    Receiver r(bus, 1, w.size(), options(500, 1.0));
    FakeWeightChannel root(bus, 0);
    const auto t0 = Clock::now();
    try {
        send_weight_version(root, 3, w.data(), w.size(), bf16_wire_crc32c(w.data(), w.size()), 1,
                            options(500, 0.5));
        FAIL() << "the broadcast finished without rank 2";
    } catch (const DeadlineError& e) {
        EXPECT_EQ(e.outcome(), WaitOutcome::expired);
        EXPECT_NE(std::string(e.what()).find("weight header of version 3"), std::string::npos) << e.what();
    }
    const double took = seconds_since(t0);
    EXPECT_GE(took, 0.5);
    EXPECT_LT(took, 5.0);
    EXPECT_TRUE(root.broken());
    EXPECT_THROW(root.broadcast_bytes(nullptr, 0, "again", {}), Error)
        << "an aborted channel is never used again";
    r.thread.join();
    EXPECT_FALSE(r.returned && r.error.empty()) << "the receiver must not get the version";
}

// A root that dies after two buckets: the receiver gives up within the whole transfer's deadline.
TEST(WeightTransfer, ARootThatDiesMidTransferLeavesTheReceiverWithItsOldVersion) {
    const std::vector<float> w = random_weights(5000, 6);
    auto bus = std::make_shared<FakeBus>();
    const auto t0 = Clock::now();
    Receiver r(bus, 1, w.size(), options(1000, 0.8));
    struct Dying : FakeWeightChannel {
        using FakeWeightChannel::FakeWeightChannel;
        int sent = 0;
        void send_bucket(const float* src, size_t count, const std::string& what,
                         const CallDeadline& d) override {
            if (++sent > 2) throw Error("the trainer died");
            FakeWeightChannel::send_bucket(src, count, what, d);
        }
    } root(bus, 0);
    EXPECT_THROW(send_weight_version(root, 5, w.data(), w.size(), 0, 1, options(1000)), Error);
    r.thread.join();
    EXPECT_TRUE(r.deadline) << r.error;
    EXPECT_NE(r.error.find("version 5, bucket 3 of 5"), std::string::npos) << r.error;
    EXPECT_LT(seconds_since(t0), 5.0);
    EXPECT_TRUE(r.ch.broken());
}

// Every call is quick, but together they exceed weights.timeout_s: the transfer stops there.
TEST(WeightTransfer, TheWholeTransferHasOneDeadline) {
    const std::vector<float> w = random_weights(2000, 7);
    auto bus = std::make_shared<FakeBus>();
    struct Slow : FakeWeightChannel {
        using FakeWeightChannel::FakeWeightChannel;
        uint32_t receive_bucket(float* dst, size_t count, uint32_t crc, const std::string& what,
                                const CallDeadline& d) override {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            return FakeWeightChannel::receive_bucket(dst, count, crc, what, d);
        }
    } slow(bus, 1);
    std::string error;
    std::thread receiver([&] {
        std::vector<float> got;
        try {
            receive_weight_version(slow, got, w.size(), options(100, 0.5));  // 20 buckets of 100 ms
        } catch (const DeadlineError& e) {
            error = e.what();
        }
    });
    FakeWeightChannel root(bus, 0);
    EXPECT_THROW(send_weight_version(root, 1, w.data(), w.size(), 0, 1, options(100, 2.0)), DeadlineError);
    receiver.join();
    EXPECT_NE(error.find("not done within weights.timeout_s"), std::string::npos) << error;
    EXPECT_TRUE(slow.broken());
}

TEST(WeightTransfer, StopEndsAWaitingTransferLongBeforeItsDeadline) {
    auto bus = std::make_shared<FakeBus>();
    std::atomic<bool> stop{false};
    const auto t0 = Clock::now();
    Receiver r(bus, 1, 0, options(100, 120, &stop));  // the root never sends
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop = true;
    r.thread.join();
    EXPECT_TRUE(r.deadline) << r.error;
    EXPECT_NE(r.error.find("stopped"), std::string::npos) << r.error;
    EXPECT_LT(seconds_since(t0), 5.0);
    EXPECT_TRUE(r.ch.broken());
}

}  // namespace
}  // namespace stride
