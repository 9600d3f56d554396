// tests/model/fake_weight_channel.h: a WeightChannel whose ranks are threads of this process, for the
// CPU tests of the weight orchestration (model/weight_transfer.h, job/weight_group.h).
//
// Like an NCCL broadcast, every call is a collective: the root's call k is done only once every other
// rank has taken its payload k, a receiver's once the root has posted it; each waits through
// wait_with_deadline (common/base/deadline_poll.h) under the call's deadline and stop flag, and on
// giving up aborts its end for good. A rank that never calls (a silent peer) therefore makes the
// root's call expire. Faults: corrupt_bucket flips one bit of the k-th bucket on its way.
#pragma once
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/base/crc32c.h"
#include "common/base/deadline_poll.h"
#include "model/dtype.h"
#include "model/weight_channel.h"

namespace stride::test {

// What the ranks of one fake communicator share.
struct FakeBus {
    int nranks = 2;
    std::mutex mu;
    struct Slot {
        std::vector<char> bytes;
        int taken = 0;
    };
    std::map<uint64_t, Slot> slots;  // by call number
    int corrupt_bucket = -1;         // 0-based bucket (send_bucket call) whose bytes get one bit flipped
    int buckets_posted = 0;
    int aborts = 0;
};

class FakeWeightChannel : public WeightChannel {
   public:
    FakeWeightChannel(std::shared_ptr<FakeBus> bus, int rank) : bus_(std::move(bus)), rank_(rank) {}
    int rank() const override { return rank_; }
    int nranks() const override { return bus_->nranks; }
    bool broken() const override { return broken_; }
    void abort() override {
        if (broken_) return;
        broken_ = true;
        std::lock_guard<std::mutex> lock(bus_->mu);
        ++bus_->aborts;
    }
    uint64_t calls() const { return seq_; }

    void broadcast_bytes(void* bytes, size_t n, const std::string& what, const CallDeadline& d) override {
        if (rank_ == 0) {
            post(std::vector<char>(static_cast<char*>(bytes), static_cast<char*>(bytes) + n), false, what, d);
        } else {
            const std::vector<char> got = take(what, d);
            STRIDE_CHECK(got.size() == n, "fake channel: " + what + ": size mismatch");
            std::memcpy(bytes, got.data(), n);
        }
    }
    void send_bucket(const float* src, size_t count, const std::string& what,
                     const CallDeadline& d) override {
        std::vector<char> wire(count * 2);
        for (size_t i = 0; i < count; ++i) {
            const uint16_t b = f32_to_bf16(src[i]);
            std::memcpy(wire.data() + 2 * i, &b, 2);
        }
        post(std::move(wire), true, what, d);
    }
    uint32_t receive_bucket(float* dst, size_t count, uint32_t crc, const std::string& what,
                            const CallDeadline& d) override {
        const std::vector<char> wire = take(what, d);
        STRIDE_CHECK(wire.size() == count * 2, "fake channel: " + what + ": size mismatch");
        crc = crc32c(wire.data(), wire.size(), crc);
        for (size_t i = 0; i < count; ++i) {
            uint16_t b;
            std::memcpy(&b, wire.data() + 2 * i, 2);
            dst[i] = bf16_to_f32(b);
        }
        return crc;
    }

   private:
    // Polls `ready` (under the bus lock) until it holds; aborts this end when the wait gives up.
    template <class Ready>
    void wait(Ready ready, const std::string& what, const CallDeadline& d) {
        struct Op : AsyncOp {
            FakeWeightChannel* self;
            Ready* ready;
            AsyncPoll poll() override {
                std::lock_guard<std::mutex> lock(self->bus_->mu);
                return (*ready)() ? AsyncPoll{AsyncState::done, {}} : AsyncPoll{};
            }
            void abort() override { self->abort(); }
        } op;
        op.self = this;
        op.ready = &ready;
        DeadlineOptions o;
        o.timeout_s = d.timeout_s;
        o.stop = d.stop;
        o.call = "fake broadcast(" + what + ")";
        o.peers = rank_ == 0 ? "the other ranks" : "rank 0";
        wait_with_deadline(op, o);
    }
    void post(std::vector<char> bytes, bool bucket, const std::string& what, const CallDeadline& d) {
        STRIDE_CHECK(!broken_, "fake channel: " + what + ": aborted earlier");
        const uint64_t k = seq_++;
        {
            std::lock_guard<std::mutex> lock(bus_->mu);
            if (bucket && bus_->buckets_posted++ == bus_->corrupt_bucket) bytes[bytes.size() / 2] ^= 0x10;
            bus_->slots[k].bytes = std::move(bytes);
        }
        wait([&] { return bus_->slots[k].taken == bus_->nranks - 1; }, what, d);
    }
    std::vector<char> take(const std::string& what, const CallDeadline& d) {
        STRIDE_CHECK(!broken_, "fake channel: " + what + ": aborted earlier");
        const uint64_t k = seq_++;
        std::vector<char> out;
        bool taken = false;
        wait(
            [&] {
                auto it = bus_->slots.find(k);
                if (it == bus_->slots.end()) return false;
                if (!taken) {
                    out = it->second.bytes;
                    ++it->second.taken;
                    taken = true;
                }
                return true;
            },
            what, d);
        return out;
    }

    std::shared_ptr<FakeBus> bus_;
    int rank_;
    uint64_t seq_ = 0;
    bool broken_ = false;
};

}  // namespace stride::test
