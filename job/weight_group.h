// job/weight_group.h: the NCCL weight group of a job, as the trainer and each rollout worker run it
// (issue #17, "weight sync over NCCL" and "deadlines everywhere"). The transfer itself is
// model/weight_transfer.h over a WeightChannel (model/nccl/nccl_weights.h on GPUs; a fake in the CPU
// tests); the group forms at the rendezvous (common/nccl_rendezvous.h); versions are announced by the
// trainer's ZeroMQ weight publisher (WeightUpdate.nccl*, common/weight_sync.h), which also serves every
// version: the fallback of any worker the group does not reach.
//
// One publish, trainer side (WeightGroupSender): prepare() asks the rendezvous and forms a new
// generation when a worker waits to join (late, restarted, or re-joining after a failure), a member
// is lost, or the last transfer gave up, then joins its channel (every member must arrive within
// weights.timeout_s); the trainer announces the version with that generation, and send() broadcasts
// it. A worker (WeightGroupReceiver, a thread of its own) keeps asking the rendezvous (its
// keep-alive), joins every generation it is a member of, enters the broadcast of every version
// announced for its generation, and hands the version to the rollout loop only after the last bucket
// arrived and the CRC-32C matched (take_if_newer).
//
// Failures never hang and are never silent: a call or transfer past weights.timeout_s, a stop, or an
// error aborts the channel, is logged naming the call and the peers waited on, and is counted in
// stride_weight_sync_failures_total{transport="nccl",reason=init|expired|stopped|failed|corrupt}. The
// trainer then re-forms the group at the next publish without the lost members; the worker fetches
// that version over ZeroMQ and re-joins under a new instance (so the rendezvous lists it as waiting).
// Successful transfers are timed in stride_weight_transfer_seconds{transport="nccl"}.
// Tested on the CPU by tests/job/test_weight_group.cpp (real rendezvous and publisher sockets, ranks in
// threads over a fake channel).
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/nccl_rendezvous.h"
#include "model/weight_channel.h"
#include "model/weight_transfer.h"

namespace stride {

struct WeightGroupOptions {
    std::string job_id;
    std::string member;      // "trainer" or "rollout-I"
    std::string instance;    // this process's run: a restart is a new instance
    std::string rendezvous;  // where NcclJoin is answered (the scheduler's registry)
    std::shared_ptr<const CurveKeys> curve;
    double timeout_s = 60;            // weights.timeout_s: a whole transfer, and joining a generation
    size_t bucket_elems = 32u << 20;  // weights.bucket_mb in bf16 weights
    const std::atomic<bool>* stop = nullptr;
    MetricsRegistry* metrics = nullptr;  // null: MetricsRegistry::global()
    int ask_every_ms = 200;              // a worker's keep-alive and generation poll
};

// This member's end of generation `group` (its rank: group.rank()): joins the communicator and returns
// once every member has, or throws (DeadlineError past d.timeout_s) after aborting it.
using WeightChannelFactory =
    std::function<std::unique_ptr<WeightChannel>(const v1::NcclGroup& group, const CallDeadline& d)>;

// Counts one give-up in stride_weight_sync_failures_total and returns its reason label.
std::string count_weight_sync_failure(MetricsRegistry& r, const std::string& job, const std::string& member,
                                      const std::string& transport, const std::string& reason);
// Times one transfer that went through in stride_weight_transfer_seconds.
void record_weight_transfer(MetricsRegistry& r, const std::string& job, const std::string& member,
                            const std::string& transport, double seconds);
// The reason label of a transfer's error: expired, stopped, failed (or corrupt for a refused check).
std::string weight_failure_reason(const std::exception& e);

class WeightGroupSender {
   public:
    // make_unique_id: a fresh ncclUniqueId for each generation (nccl_make_unique_id).
    WeightGroupSender(WeightGroupOptions opt, WeightChannelFactory make_channel,
                      std::function<std::string()> make_unique_id);
    // The generation the next version goes to, the group kept current first (see above); -1 when no
    // worker is in it or it could not form (the version then goes over ZeroMQ only). Bounded by
    // weights.timeout_s plus the rendezvous' answer.
    int64_t prepare();
    // Broadcasts `version` (`src` [n] in the channel's source memory; wire_crc: bf16_wire_crc32c) to the
    // generation prepare() returned. False when it gave up (logged, counted, the channel aborted).
    bool send(int64_t version, const float* src, size_t n, uint32_t wire_crc, uint32_t tensors);
    int64_t generation() const { return generation_; }
    const std::vector<std::string>& members() const { return members_; }
    uint64_t failures() const { return failures_; }

   private:
    int64_t keep_current();  // prepare() but throws when the rendezvous refuses
    void drop_channel();
    WeightGroupOptions opt_;
    WeightChannelFactory make_channel_;
    std::function<std::string()> make_unique_id_;
    ZmqContext ctx_;
    NcclRendezvousClient client_;
    std::unique_ptr<WeightChannel> channel_;
    int64_t generation_ = -1;
    std::vector<std::string> members_;
    uint64_t failures_ = 0;
};

// A version received over the group and checked.
struct ReceivedWeights {
    int64_t version = -1;
    std::vector<float> weights;  // fp32, the bf16 values the trainer sent
    uint32_t wire_crc32c = 0;    // of the bf16 wire image (checked)
    double seconds = 0;
};

class WeightGroupReceiver {
   public:
    // Starts the worker's thread. weights_endpoint: the trainer's publisher (announcements);
    // expect_elements: the weights of this worker's model.
    WeightGroupReceiver(WeightGroupOptions opt, WeightChannelFactory make_channel,
                        std::string weights_endpoint, size_t expect_elements);
    ~WeightGroupReceiver();  // stops the thread (an ongoing transfer is stopped and aborted)
    WeightGroupReceiver(const WeightGroupReceiver&) = delete;
    WeightGroupReceiver& operator=(const WeightGroupReceiver&) = delete;

    // The newest version received, if newer than `have` (moved out).
    std::optional<ReceivedWeights> take_if_newer(int64_t have);
    // Whether `update` will arrive (or arrived) over the group: announced for the generation this worker
    // holds a healthy channel of, and not given up. The rollout loop fetches all others over ZeroMQ.
    bool expects(const v1::WeightUpdate& update) const;
    int64_t generation() const { return generation_; }
    uint64_t failures() const { return failures_; }
    uint64_t received() const { return received_; }

   private:
    void run();
    void join(const v1::NcclGroup& g);
    void receive(int64_t announced);
    void rejoin(const std::string& why);
    WeightGroupOptions opt_;
    WeightChannelFactory make_channel_;
    std::string weights_endpoint_;
    size_t expect_elements_;
    std::atomic<bool> stop_{false};
    std::unique_ptr<WeightChannel> channel_;  // the thread's
    std::atomic<int64_t> generation_{-1};
    std::atomic<int64_t> given_up_{-1};  // the latest version whose transfer gave up
    std::atomic<int64_t> last_version_{-1};
    std::atomic<uint64_t> failures_{0}, received_{0};
    int rejoins_ = 0;
    mutable std::mutex mu_;
    std::optional<ReceivedWeights> ready_;  // under mu_
    std::thread thread_;
};

}  // namespace stride
