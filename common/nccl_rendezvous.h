// common/nccl_rendezvous.h: where the NCCL communicator of the weight broadcast is formed (issue #17).
//
// The trainer's rank 0 makes an ncclUniqueId; the rollout workers must learn it, and their rank, over
// the scheduler's ZeroMQ control channel (the registry, scheduler/registry.h, which serves NcclJoin
// with an NcclRendezvous). Each member asks with NcclJoin (proto/stride.proto) every second or so; the
// answer is the current group (generation, unique id, members in rank order, the asker's rank or -1)
// and, for the trainer, who is waiting to join (late, or restarted: another instance than the group
// was formed with) and which members are lost (silent for lost_after_s). The trainer forms a new
// generation when there is someone waiting, lost, or after a collective gave up on its deadline
// (model/nccl/nccl_comm.h); every member then drops its old communicator and joins the new one.
//
// Tested by tests/common/test_nccl_rendezvous.cpp over real ZeroMQ sockets (and through the registry
// by tests/scheduler/test_registry.cpp).
#pragma once
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/messaging.h"

namespace stride {

inline constexpr size_t kNcclUniqueIdBytes = 128;  // NCCL_UNIQUE_ID_BYTES (nccl.h)

// The registry's side: the members that asked and the current group. Not thread-safe (the registry
// calls it under its lock).
class NcclRendezvous {
   public:
    explicit NcclRendezvous(double lost_after_s) : lost_after_s_(lost_after_s) {}

    // The answer to one NcclJoin: an NcclGroup, or an Error naming what is wrong with the request.
    v1::Envelope answer(const std::string& job_id, const v1::NcclJoin& join);
    int64_t generation() const { return generation_; }

   private:
    using Clock = std::chrono::steady_clock;
    struct Seen {
        std::string instance;
        Clock::time_point last_seen;
    };
    std::optional<std::string> refusal(const v1::NcclJoin& join) const;
    void form(const v1::NcclJoin& join);
    bool live(const std::string& member) const;
    double lost_after_s_;
    std::map<std::string, Seen> seen_;  // member -> its latest instance
    int64_t generation_ = -1;
    std::string unique_id_;
    std::vector<std::string> members_;                // rank order
    std::map<std::string, std::string> formed_with_;  // member -> its instance when the group formed
};

// An NcclRendezvous on a socket of its own, served from a thread: where the group forms when no
// registry runs (tests; a launcher that starts the roles itself).
class NcclRendezvousServer {
   public:
    NcclRendezvousServer(std::string job_id, const std::string& bind_endpoint, double lost_after_s,
                         std::shared_ptr<const CurveKeys> curve = nullptr);
    ~NcclRendezvousServer();
    NcclRendezvousServer(const NcclRendezvousServer&) = delete;
    NcclRendezvousServer& operator=(const NcclRendezvousServer&) = delete;
    std::string endpoint() const { return sock_.endpoint(); }

   private:
    std::string job_id_;
    NcclRendezvous table_;
    ZmqContext ctx_;
    ReplySocket sock_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// Whether `member` names a member of the weight group: "trainer" or "rollout-I" (I >= 0).
bool is_nccl_member_name(const std::string& member);

// A member's side: asks the registry at `scheduler`.
class NcclRendezvousClient {
   public:
    NcclRendezvousClient(ZmqContext& ctx, const std::string& scheduler, std::string job_id,
                         std::string member, std::string instance);

    // Asks for the current group, saying which generation this member holds (-1: none). nullopt when
    // the registry does not answer within timeout_ms (or *stop); throws Error when it refuses.
    std::optional<v1::NcclGroup> ask(int64_t have_generation, int timeout_ms,
                                     const std::atomic<bool>* stop = nullptr);
    // The trainer: forms a new generation with `unique_id` and `members` (rank order, "trainer" first).
    std::optional<v1::NcclGroup> form(const std::string& unique_id, const std::vector<std::string>& members,
                                      int timeout_ms, const std::atomic<bool>* stop = nullptr);

   private:
    std::optional<v1::NcclGroup> call(const v1::NcclJoin& join, int timeout_ms,
                                      const std::atomic<bool>* stop);
    RequestClient client_;
    std::string member_, instance_;
};

// The trainer's next group: itself, then the current members that are not lost and everyone waiting,
// each once, in name order.
std::vector<std::string> next_nccl_members(const v1::NcclGroup& current);

}  // namespace stride
