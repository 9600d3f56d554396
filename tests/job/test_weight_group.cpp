// tests/job/test_weight_group.cpp: the NCCL weight group's orchestration (job/weight_group.h) on the CPU:
// a real rendezvous (common/nccl_rendezvous.h) and a real weight publisher (announcements) over
// ZeroMQ, the trainer and rollout workers in threads, the collective a fake channel of threads
// (tests/model/fake_weight_channel.h). Asserts: a version reaches every member and is handed over only
// once checked; a corrupted bucket is refused, counted, and that version left to ZeroMQ; a silent peer
// makes the broadcast give up within weights.timeout_s, counted, and the group re-forms without it; a
// late worker re-joins at the next publish; stop ends a transfer at once.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "common/base/deadline_poll.h"
#include "common/weight_sync.h"
#include "job/weight_group.h"
#include "tests/model/fake_weight_channel.h"

namespace stride {
namespace {

using Clock = std::chrono::steady_clock;
using test::FakeBus;
using test::FakeWeightChannel;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One fake communicator per generation; joining waits (under the deadline) for every member, as
// ncclCommInitRank does.
class FakeGroups {
   public:
    WeightChannelFactory factory() {
        return [this](const v1::NcclGroup& g, const CallDeadline& d) -> std::unique_ptr<WeightChannel> {
            std::shared_ptr<FakeBus> bus = bus_of(g);
            struct Joined : AsyncOp {
                FakeGroups* self;
                int64_t gen;
                int nranks;
                AsyncPoll poll() override {
                    std::lock_guard<std::mutex> lock(self->mu_);
                    return self->joined_[gen] >= nranks ? AsyncPoll{AsyncState::done, {}} : AsyncPoll{};
                }
                void abort() override {}
            } op;
            op.self = this;
            op.gen = g.generation();
            op.nranks = g.members_size();
            DeadlineOptions o;
            o.timeout_s = d.timeout_s;
            o.stop = d.stop;
            o.call = "fake init of generation " + std::to_string(g.generation());
            wait_with_deadline(op, o);
            return std::make_unique<FakeWeightChannel>(bus, g.rank());
        };
    }
    std::shared_ptr<FakeBus> bus(int64_t generation) {
        std::lock_guard<std::mutex> lock(mu_);
        return buses_.at(generation);
    }

   private:
    std::shared_ptr<FakeBus> bus_of(const v1::NcclGroup& g) {
        std::lock_guard<std::mutex> lock(mu_);
        auto& b = buses_[g.generation()];
        if (!b) {
            b = std::make_shared<FakeBus>();
            b->nranks = g.members_size();
        }
        ++joined_[g.generation()];
        return b;
    }
    std::mutex mu_;
    std::map<int64_t, std::shared_ptr<FakeBus>> buses_;
    std::map<int64_t, int> joined_;
};

std::string fake_unique_id() {
    static std::mt19937 rng(1);
    std::string id(kNcclUniqueIdBytes, '\0');
    for (char& c : id) c = static_cast<char>(rng() & 0xff);
    return id;
}

// The trainer's side of a job: the rendezvous, its publisher and its sender, as TrainerRole::publish
// uses them.
struct Trainer {
    explicit Trainer(FakeGroups& groups, double timeout_s = 5, double lost_after_s = 30,
                     const std::atomic<bool>* stop = nullptr)
        : rendezvous("job", "tcp://127.0.0.1:*", lost_after_s),
          publisher("job", "tcp://127.0.0.1:*", 1u << 20, false),
          sender(options("trainer", timeout_s, stop), groups.factory(), fake_unique_id) {}
    WeightGroupOptions options(const std::string& member, double timeout_s, const std::atomic<bool>* stop) {
        WeightGroupOptions o;
        o.job_id = "job";
        o.member = member;
        o.instance = member + "-run";
        o.rendezvous = rendezvous.endpoint();
        o.timeout_s = timeout_s;
        o.bucket_elems = 1000;
        o.stop = stop;
        o.metrics = &metrics;
        o.ask_every_ms = 50;
        return o;
    }
    // Announce, then broadcast: what a publish does. True when the broadcast went through.
    bool publish(int64_t version, const std::vector<float>& w) {
        const int64_t gen = sender.prepare();
        WeightBlob blob;
        blob.version = version;
        blob.bytes.assign(reinterpret_cast<const char*>(w.data()),
                          reinterpret_cast<const char*>(w.data() + w.size()));
        blob.nccl_generation = gen;
        publisher.publish(std::move(blob));
        return gen >= 0 && sender.send(version, w.data(), w.size(), bf16_wire_crc32c(w.data(), w.size()), 1);
    }
    // prepare() until the group holds `n` members (workers ask the rendezvous from their threads).
    void wait_for_members(size_t n) {
        const auto t0 = Clock::now();
        while (sender.members().size() != n || sender.generation() < 0) {
            ASSERT_LT(seconds_since(t0), 20.0) << "the group never reached " << n << " members";
            sender.prepare();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    MetricsRegistry metrics;
    NcclRendezvousServer rendezvous;
    WeightPublisher publisher;
    WeightGroupSender sender;
};

std::unique_ptr<WeightGroupReceiver> worker(Trainer& t, FakeGroups& groups, int i, size_t n,
                                            double timeout_s = 5) {
    return std::make_unique<WeightGroupReceiver>(
        t.options("rollout-" + std::to_string(i), timeout_s, nullptr), groups.factory(),
        t.publisher.endpoint(), n);
}

std::vector<float> weights(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, 0.05f);
    std::vector<float> w(n);
    for (float& x : w) x = dist(rng);
    return w;
}

// Waits for a version newer than `have` from `r`.
std::optional<ReceivedWeights> wait_version(WeightGroupReceiver& r, int64_t have, double within_s = 10) {
    const auto t0 = Clock::now();
    while (seconds_since(t0) < within_s) {
        if (auto got = r.take_if_newer(have)) return got;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::nullopt;
}

// The value of the series of `name` whose labels contain every one of `labels` (0 when none).
double metric(const MetricsRegistry& m, const std::string& name, const std::vector<std::string>& labels) {
    std::istringstream in(m.render());
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + "{", 0) != 0) continue;
        bool all = true;
        for (const std::string& l : labels) all = all && line.find(l) != std::string::npos;
        if (all) return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return 0;
}

TEST(WeightGroup, AVersionReachesEveryWorkerAndIsHandedOverOnlyOnceChecked) {
    FakeGroups groups;
    Trainer t(groups);
    const std::vector<float> w = weights(4321, 1);
    auto w0 = worker(t, groups, 0, w.size());
    auto w1 = worker(t, groups, 1, w.size());
    t.wait_for_members(3);
    EXPECT_EQ(t.sender.members(), (std::vector<std::string>{"trainer", "rollout-0", "rollout-1"}));
    ASSERT_TRUE(t.publish(1, w));
    for (WeightGroupReceiver* r : {w0.get(), w1.get()}) {
        auto got = wait_version(*r, 0);
        ASSERT_TRUE(got) << "no version over the group";
        EXPECT_EQ(got->version, 1);
        EXPECT_EQ(got->wire_crc32c, bf16_wire_crc32c(w.data(), w.size()));
        ASSERT_EQ(got->weights.size(), w.size());
        for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(got->weights[i], bf16_to_f32(f32_to_bf16(w[i])));
        EXPECT_FALSE(r->take_if_newer(1)) << "handed over twice";
        v1::WeightUpdate u;
        u.set_version(1);
        u.set_nccl(true);
        u.set_nccl_generation(r->generation());
        EXPECT_TRUE(r->expects(u)) << "the rollout loop would fetch it over ZeroMQ too";
        u.set_nccl(false);
        EXPECT_FALSE(r->expects(u));
    }
    EXPECT_EQ(metric(t.metrics, "stride_weight_transfer_seconds_count", {"worker=\"trainer\""}), 1);
    EXPECT_EQ(metric(t.metrics, "stride_weight_transfer_seconds_count", {"worker=\"rollout-1\""}), 1);
    EXPECT_EQ(t.sender.failures() + w0->failures() + w1->failures(), 0u);
}

TEST(WeightGroup, ACorruptedBucketIsRefusedCountedAndLeftToZeroMq) {
    FakeGroups groups;
    Trainer t(groups);
    const std::vector<float> w = weights(3000, 2);
    auto w0 = worker(t, groups, 0, w.size());
    t.wait_for_members(2);
    groups.bus(t.sender.generation())->corrupt_bucket = 1;
    EXPECT_TRUE(t.publish(1, w));  // the root's broadcast itself went through
    const auto t0 = Clock::now();
    while (w0->failures() == 0 && seconds_since(t0) < 10)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(w0->failures(), 1u);
    EXPECT_FALSE(w0->take_if_newer(0)) << "a corrupted version was handed over";
    v1::WeightUpdate u;
    u.set_version(1);
    u.set_nccl(true);
    u.set_nccl_generation(t.sender.generation());
    EXPECT_FALSE(w0->expects(u)) << "the loop must fetch the refused version over ZeroMQ";
    EXPECT_EQ(metric(t.metrics, "stride_weight_sync_failures_total",
                     {"worker=\"rollout-0\"", "reason=\"corrupt\""}),
              1);
    // The channel is intact: the next version comes over the same generation.
    const int64_t gen = t.sender.generation();
    ASSERT_TRUE(t.publish(2, w));
    auto got = wait_version(*w0, 1);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->version, 2);
    EXPECT_EQ(t.sender.generation(), gen);
}

TEST(WeightGroup, ASilentPeerMakesTheBroadcastGiveUpWithinTheDeadlineAndTheGroupReformsWithoutIt) {
    FakeGroups groups;
    Trainer t(groups, /*timeout_s=*/1.0, /*lost_after_s=*/0.5);
    const std::vector<float> w = weights(2500, 3);
    auto w0 = worker(t, groups, 0, w.size(), 1.0);
    auto w1 = worker(t, groups, 1, w.size(), 1.0);
    t.wait_for_members(3);
    const int64_t gen = t.sender.generation();
    w1.reset();  // rollout-1 dies: it never enters the broadcast and stops asking the rendezvous
    const auto t0 = Clock::now();
    EXPECT_FALSE(t.publish(1, w));
    const double took = seconds_since(t0);
    EXPECT_GE(took, 1.0);
    EXPECT_LT(took, 6.0) << "the give-up must come within weights.timeout_s, not hang";
    EXPECT_EQ(t.sender.failures(), 1u);
    EXPECT_EQ(
        metric(t.metrics, "stride_weight_sync_failures_total", {"worker=\"trainer\"", "reason=\"expired\""}),
        1);
    EXPECT_GE(groups.bus(gen)->aborts, 1) << "the channel was not aborted";
    // The next publish forms the group without the dead worker; rollout-0 (which gave up too and
    // re-joined) gets the version over it.
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // rollout-1 is lost by now
    ASSERT_TRUE(t.publish(2, w));
    EXPECT_EQ(t.sender.members(), (std::vector<std::string>{"trainer", "rollout-0"}));
    auto got = wait_version(*w0, 1);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->version, 2);
}

TEST(WeightGroup, ALateWorkerRejoinsAtTheNextPublish) {
    FakeGroups groups;
    Trainer t(groups);
    const std::vector<float> w = weights(1500, 4);
    auto w0 = worker(t, groups, 0, w.size());
    t.wait_for_members(2);
    ASSERT_TRUE(t.publish(1, w));
    ASSERT_TRUE(wait_version(*w0, 0));
    auto w1 = worker(t, groups, 1, w.size());                     // joins late
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // it has asked the rendezvous by now
    const int64_t before = t.sender.generation();
    ASSERT_TRUE(t.publish(2, w));
    EXPECT_GT(t.sender.generation(), before);
    EXPECT_EQ(t.sender.members(), (std::vector<std::string>{"trainer", "rollout-0", "rollout-1"}));
    for (WeightGroupReceiver* r : {w0.get(), w1.get()}) {
        auto got = wait_version(*r, 1);
        ASSERT_TRUE(got);
        EXPECT_EQ(got->version, 2);
    }
}

TEST(WeightGroup, StopEndsABroadcastLongBeforeItsDeadline) {
    FakeGroups groups;
    std::atomic<bool> stop{false};
    Trainer t(groups, /*timeout_s=*/60, 30, &stop);
    const std::vector<float> w = weights(1000, 5);
    auto w0 = worker(t, groups, 0, w.size(), 60);
    auto w1 = worker(t, groups, 1, w.size(), 60);
    t.wait_for_members(3);
    w1.reset();  // the broadcast would wait 60 s for it
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        stop = true;
    });
    const auto t0 = Clock::now();
    EXPECT_FALSE(t.publish(1, w));
    EXPECT_LT(seconds_since(t0), 5.0);
    stopper.join();
    EXPECT_EQ(
        metric(t.metrics, "stride_weight_sync_failures_total", {"worker=\"trainer\"", "reason=\"stopped\""}),
        1);
    const auto t1 = Clock::now();
    w0.reset();  // a worker stopped in the middle of its transfer ends at once too
    EXPECT_LT(seconds_since(t1), 5.0);
}

}  // namespace
}  // namespace stride
