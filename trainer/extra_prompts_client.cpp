#include "trainer/extra_prompts_client.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/base/peer_error.h"
#include "common/messaging.h"

namespace stride {

namespace {
constexpr int kStopGraceMs = 500;  // what a stopping trainer still waits for an answer under way
}

ExtraPromptsClient::ExtraPromptsClient(std::string job_id, double deadline_s,
                                       std::shared_ptr<const CurveKeys> curve)
    : job_id_(std::move(job_id)),
      deadline_s_(deadline_s),
      zctx_(std::make_unique<ZmqContext>(std::move(curve))) {}

ExtraPromptsClient::~ExtraPromptsClient() = default;

void ExtraPromptsClient::connect(const std::string& scheduler_endpoint) {
    client_ = std::make_unique<RequestClient>(*zctx_, scheduler_endpoint, job_id_);
    acked_ = -1;  // a new dispatcher knows nothing yet
    silent_since_.reset();
}

bool ExtraPromptsClient::announce(int64_t total, int timeout_ms) {
    wanted_ = std::max(wanted_, total);
    if (!client_) return false;
    if (acked_ >= wanted_) return true;
    v1::Envelope req = make_envelope(job_id_);
    req.mutable_extra_prompts()->set_total(wanted_);
    const auto sent = std::chrono::steady_clock::now();
    const std::optional<v1::Envelope> reply = client_->call(req, timeout_ms, stop_, kStopGraceMs);
    if (reply) silent_since_.reset();
    if (reply && reply->has_extra_prompts_ack()) {
        acked_ = std::max(acked_, std::min(wanted_, reply->extra_prompts_ack().total()));
        warned_ = false;
        return acked_ >= wanted_;
    }
    if (!reply) {
        if (!silent_since_) silent_since_ = sent;
        const double silent =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - *silent_since_).count();
        if (silent >= deadline_s_)
            throw PeerUnreachable(
                "prompt dispatcher",
                fmt::format("trainer: the prompt dispatcher at {} did not answer for {:.1f} s "
                            "(deadlines.dispatcher_s = {}): it is down or stuck",
                            client_->endpoint(), silent, deadline_s_));
    }
    if (!warned_) {  // once per outage: the next call sends it again
        spdlog::warn("trainer: the scheduler at {} did not acknowledge {} extra prompts ({}); retrying",
                     client_->endpoint(), wanted_,
                     reply && reply->has_error() ? reply->error().message() : "no reply");
        warned_ = true;
    }
    return false;
}

void ExtraPromptsClient::resumed(std::vector<std::string> prompt_ids) {
    redispatch_ = std::move(prompt_ids);
    resume_unacked_ = true;
}

bool ExtraPromptsClient::send_resumed(int timeout_ms) {
    if (!resume_unacked_) return true;
    if (!client_) return false;
    v1::Envelope req = make_envelope(job_id_);
    for (const std::string& id : redispatch_) req.mutable_redispatch_prompts()->add_prompt_ids(id);
    req.mutable_redispatch_prompts()->set_reason("the trainer's resume deleted their groups");
    const std::optional<v1::Envelope> reply = client_->call(req, timeout_ms);
    if (reply && reply->has_redispatch_prompts_ack()) {
        if (!redispatch_.empty())
            spdlog::info("trainer: {} prompts whose groups the resume deleted: {} handed out again",
                         redispatch_.size(), reply->redispatch_prompts_ack().queued());
        redispatch_.clear();
        resume_unacked_ = false;
        return true;
    }
    spdlog::warn(
        "trainer: the scheduler at {} did not take the resume's {} prompts to hand out again ({}); "
        "retrying",
        client_->endpoint(), redispatch_.size(),
        reply && reply->has_error() ? reply->error().message() : "no reply");
    return false;
}

}  // namespace stride
