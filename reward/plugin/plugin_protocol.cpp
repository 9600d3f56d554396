#include "reward/plugin/plugin_protocol.h"

#include <google/protobuf/descriptor.pb.h>

#include <cmath>

#include <nlohmann/json.hpp>

namespace stride::reward_wire {

const std::string& schema_descriptor() {
    static const std::string bytes = [] {
        google::protobuf::FileDescriptorProto file;
        v1::RewardRequest::descriptor()->file()->CopyTo(&file);
        return file.SerializeAsString();
    }();
    return bytes;
}

void to_item(const RewardInput& in, v1::RewardItem* out) {
    out->set_prompt(in.prompt);
    out->set_response(in.response);
    out->set_label(in.answer);
    out->set_response_tokens(in.response_tokens);
    out->set_truncated(in.truncated);
    out->set_data_source(in.data_source);
    out->set_extra_info_json(in.extra_info_json);
    out->set_label_json(in.answer_json);
}

std::string metadata_json(const v1::RewardItem& item) {
    std::string out =
        "{\"response_tokens\":" + std::to_string(item.response_tokens()) +
        ",\"truncated\":" + (item.truncated() ? "true" : "false") + ",\"data_source\":" +
        nlohmann::json(item.data_source()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
        ",\"extra_info\":";
    // Spliced in as is: RewardInput::extra_info_json is a JSON object by contract (reward/reward.h).
    out += item.extra_info_json().empty() ? "{}" : item.extra_info_json();
    out += "}";
    return out;
}

std::optional<std::vector<RewardResult>> read_scores(const std::string& bytes, uint64_t request_id,
                                                     size_t next, size_t n_items, const std::string& name) {
    v1::RewardReply rep;
    if (!rep.ParseFromString(bytes) || rep.request_id() != request_id || rep.first() != next ||
        rep.ok_size() != rep.scores_size() || rep.details_size() != rep.scores_size() || next > n_items ||
        static_cast<size_t>(rep.scores_size()) > n_items - next)
        return std::nullopt;
    std::vector<RewardResult> out(static_cast<size_t>(rep.scores_size()));
    for (int j = 0; j < rep.scores_size(); ++j) {
        const double s = rep.scores(j);
        RewardResult& r = out[static_cast<size_t>(j)];
        if (!rep.ok(j) || !std::isfinite(s)) {
            r.status = RewardStatus::error;
            r.detail = name + ": " +
                       (!rep.ok(j) ? (rep.details(j).empty() ? "score failed" : rep.details(j))
                                   : "score is not finite");
        } else {
            r.score = s;
            r.detail = rep.details(j);
            r.correct = s >= 1.0;
        }
    }
    return out;
}

}  // namespace stride::reward_wire
