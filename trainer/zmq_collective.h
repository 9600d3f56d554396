// trainer/zmq_collective.h: the CPU collective of the trainer ranks, between processes over ZeroMQ.
//
// A star: rank 0 binds a ROUTER at the group's endpoint (an ipc:// socket in <run>/sockets, or TCP),
// every other rank connects a DEALER. Each call is a gather to rank 0 then a scatter from it; rank 0
// reduces in rank order (r0 + r1 + ...), so a result never depends on which message came first and is
// bitwise the same on every rank. Every message carries the group's token (another incarnation's
// stale messages are dropped) and the call's sequence number (a rank out of step is an error).
// Waits use common/base/deadline_poll.h: deadline, stop flag, and `peer_check` (rank 0 asks whether
// its child ranks still live, a rank whether rank 0 does), so a rank killed with -9 is named at once.
//
// Tested by tests/trainer/test_zmq_collective.cpp with real processes (fork) and kill -9.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/base/deadline_poll.h"
#include "common/messaging.h"
#include "trainer/collective.h"

namespace stride {

struct ZmqCollectiveOptions {
    int rank = 0;
    int size = 1;
    std::string endpoint;    // rank 0 binds it, the others connect
    std::string group;       // this incarnation's token (rank 0's pid and start time, say)
    double timeout_s = 120;  // deadlines.collective_s: the longest wait for a rank in one call
    const std::atomic<bool>* stop = nullptr;
    // Polled while waiting (every 100 ms): empty while the peers look alive, else why one is not
    // ("rank 1 (pid 42) died: signal 9"); the call then fails at once with that text.
    std::function<std::string()> peer_check;
};

class ZmqCollective : public Collective {
   public:
    // Joins the group: returns once every rank has said hello (rank 0) or rank 0 has answered (the
    // others); throws CollectiveError naming the missing ranks after timeout_s.
    ZmqCollective(ZmqContext& ctx, ZmqCollectiveOptions opt);
    int rank() const override { return opt_.rank; }
    int size() const override { return opt_.size; }
    bool host_memory() const override { return true; }
    void all_reduce(float* data, size_t n, ReduceOp op, const std::string& what) override;
    void all_reduce(double* data, size_t n, ReduceOp op, const std::string& what) override;
    void broadcast(float* data, size_t n, int root, const std::string& what) override;
    void barrier(const std::string& what) override;
    // Every rank's `bytes` become rank root's. timeout_s < 0: the group's deadline; a rank waiting for
    // rank 0's next command passes a long one (its peer_check and stop still end the wait).
    void broadcast_bytes(std::string& bytes, int root, const std::string& what, double timeout_s = -1);
    // The stop flag the waits honour from now on (null: none; the deadline and peer_check still hold):
    // a rank honours its stop between steps, not inside one, so that a step under way finishes.
    void set_stop(const std::atomic<bool>* stop) { opt_.stop = stop; }

   private:
    // The one exchange: every rank hands `mine` to rank 0; rank 0 gets all of them (rank order) and
    // sends `reply(all)` back to every rank; returns what rank 0 sent (rank 0: its own reply).
    std::string exchange(const std::string& mine,
                         const std::function<std::string(std::vector<std::string>&)>& reply,
                         const std::string& what, double timeout_s);
    std::vector<std::string> gather(const std::string& mine, const std::string& what, double timeout_s);
    std::string await_reply(const std::string& what, double timeout_s);
    template <typename T>
    void reduce(T* data, size_t n, ReduceOp op, const std::string& what);
    // ": <peer_check's text>" once it names a dead rank (within 2 s), else empty.
    std::string why_gone() const;
    DeadlineOptions deadline(const std::string& what, double timeout_s) const;
    [[noreturn]] void fail(const std::string& what, const std::string& why) const;
    ZmqCollectiveOptions opt_;
    ZmqSocket sock_;
    uint64_t seq_ = 0;
    std::map<int, std::string> routing_;  // rank 0: rank -> its DEALER's routing id
};

}  // namespace stride
