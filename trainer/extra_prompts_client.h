// The trainer's side of DAPO's replacement prompts: it tells the scheduler's prompt dispatcher how
// many prompts it has asked for beyond prompts_per_step per step (ExtraPrompts, proto/stride.proto),
// over the dispatcher's own socket. The count is cumulative, so a lost or repeated request is harmless:
// what the scheduler has not acknowledged is sent again by the next call, never waited for. A
// dispatcher that answers none of the calls for deadlines.dispatcher_s is given up: PeerUnreachable.
//
// It also carries RedispatchPrompts after a resume: the prompts of groups the buffer deleted, which
// the dispatcher hands out again (idempotent as well).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace stride {

struct CurveKeys;
class ZmqContext;
class RequestClient;

class ExtraPromptsClient {
   public:
    // deadline_s: deadlines.dispatcher_s; curve: the job's CURVE keys (null: plain sockets).
    explicit ExtraPromptsClient(std::string job_id, double deadline_s = 60,
                                std::shared_ptr<const CurveKeys> curve = nullptr);
    ~ExtraPromptsClient();
    // The dispatcher's endpoint. Until connected, announce() only records the count.
    void connect(const std::string& scheduler_endpoint);
    bool connected() const { return client_ != nullptr; }
    // The caller's stop flag (may be null; must outlive the calls): a call under way then waits at
    // most a short grace for its answer.
    void set_stop(const std::atomic<bool>* stop) { stop_ = stop; }
    // Raises the count to `total` (never lowers it) and sends it unless the scheduler already
    // acknowledged it. Waits at most timeout_ms; false when the count is still unacknowledged. Throws
    // PeerUnreachable once the dispatcher has answered nothing for the deadline.
    bool announce(int64_t total, int timeout_ms = 1000);
    int64_t acknowledged() const { return acked_; }
    // After a resume: the prompts whose groups the buffer deleted, to hand out again.
    void resumed(std::vector<std::string> prompt_ids);
    // Sends what resumed() recorded (RedispatchPrompts, also when empty) unless acknowledged; false when
    // the scheduler has not acknowledged it (the next call sends it again).
    bool send_resumed(int timeout_ms = 1000);

   private:
    std::string job_id_;
    double deadline_s_;
    std::unique_ptr<ZmqContext> zctx_;
    std::unique_ptr<RequestClient> client_;
    const std::atomic<bool>* stop_ = nullptr;
    int64_t wanted_ = 0, acked_ = -1;
    bool warned_ = false;
    // When the first call without an answer since the last answer was made.
    std::optional<std::chrono::steady_clock::time_point> silent_since_;
    bool resume_unacked_ = false;
    std::vector<std::string> redispatch_;  // of the resume not yet acknowledged
};

}  // namespace stride
