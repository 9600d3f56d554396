#include "trainer/extra_prompts_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/messaging.h"

namespace stride {

ExtraPromptsClient::ExtraPromptsClient(std::string job_id, std::shared_ptr<const CurveKeys> curve)
    : job_id_(std::move(job_id)), zctx_(std::make_unique<ZmqContext>(std::move(curve))) {}

ExtraPromptsClient::~ExtraPromptsClient() = default;

void ExtraPromptsClient::connect(const std::string& scheduler_endpoint) {
    client_ = std::make_unique<RequestClient>(*zctx_, scheduler_endpoint, job_id_);
    acked_ = -1;  // a new dispatcher knows nothing yet
}

bool ExtraPromptsClient::announce(int64_t total, int timeout_ms) {
    wanted_ = std::max(wanted_, total);
    if (!client_) return false;
    if (acked_ >= wanted_) return true;
    v1::Envelope req = make_envelope(job_id_);
    req.mutable_extra_prompts()->set_total(wanted_);
    const std::optional<v1::Envelope> reply = client_->call(req, timeout_ms);
    if (reply && reply->has_extra_prompts_ack()) {
        acked_ = std::max(acked_, std::min(wanted_, reply->extra_prompts_ack().total()));
        warned_ = false;
        return acked_ >= wanted_;
    }
    if (!warned_) {  // once per outage: the next call sends it again
        spdlog::warn("trainer: the scheduler at {} did not acknowledge {} extra prompts ({}); retrying",
                     client_->endpoint(), wanted_,
                     reply && reply->has_error() ? reply->error().message() : "no reply");
        warned_ = true;
    }
    return false;
}

}  // namespace stride
