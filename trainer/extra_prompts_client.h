// The trainer's side of DAPO's replacement prompts: it tells the scheduler's prompt dispatcher how
// many prompts it has asked for beyond prompts_per_step per step (ExtraPrompts, proto/stride.proto),
// over the dispatcher's own socket. The count is cumulative, so a lost or repeated request is harmless:
// what the scheduler has not acknowledged is sent again by the next call, never waited for.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace stride {

struct CurveKeys;
class ZmqContext;
class RequestClient;

class ExtraPromptsClient {
   public:
    // curve: the job's CURVE keys (null: plain sockets).
    explicit ExtraPromptsClient(std::string job_id, std::shared_ptr<const CurveKeys> curve = nullptr);
    ~ExtraPromptsClient();
    // The dispatcher's endpoint. Until connected, announce() only records the count.
    void connect(const std::string& scheduler_endpoint);
    bool connected() const { return client_ != nullptr; }
    // Raises the count to `total` (never lowers it) and sends it unless the scheduler already
    // acknowledged it. Waits at most timeout_ms; false when the count is still unacknowledged.
    bool announce(int64_t total, int timeout_ms = 1000);
    int64_t acknowledged() const { return acked_; }

   private:
    std::string job_id_;
    std::unique_ptr<ZmqContext> zctx_;
    std::unique_ptr<RequestClient> client_;
    int64_t wanted_ = 0, acked_ = -1;
    bool warned_ = false;
};

}  // namespace stride
