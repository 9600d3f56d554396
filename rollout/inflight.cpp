// rollout/inflight.cpp: see inflight.h.
#include "rollout/inflight.h"

#include <algorithm>
#include <set>

#include "common/messaging.h"
#include "job/evaluate.h"

namespace stride {

namespace {

int64_t unix_ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

PendingGroup take_prompt(const v1::Prompt& p, int64_t version) {
    PendingGroup g;
    g.prompt = p;
    if (g.prompt.group_id().empty()) g.prompt.set_group_id(p.prompt_id());
    g.version = version;
    g.started = std::chrono::steady_clock::now();
    g.created_unix_ms = unix_ms_now();
    return g;
}

namespace {

// Sample.weights_used for each distinct version among the sample's tokens and its policy_version.
void stamp_weights_used(v1::Sample& smp, const PendingGroup& g, const WeightsHeld& held) {
    std::set<int64_t> versions(smp.token_version().begin(), smp.token_version().end());
    versions.insert(smp.policy_version());
    for (int64_t v : versions) {
        auto it = g.weights.find(v);
        if (it == g.weights.end()) it = held.find(v);
        if (it == held.end()) continue;  // never adopted here (a test's hand-made sequence)
        v1::WeightsUsed* w = smp.add_weights_used();
        w->set_version(v);
        w->set_crc32c(it->second);
    }
}

}  // namespace

v1::Sample response_sample(const PendingGroup& g, const GeneratedSequence& s, int n,
                           const std::string& worker, const WeightsHeld& held) {
    v1::Sample smp;
    smp.set_sample_id(g.prompt.group_id() + "/" + std::to_string(s.sample_index));
    smp.set_prompt_id(g.prompt.prompt_id());
    smp.set_group_id(g.prompt.group_id());
    smp.set_index_in_group(static_cast<uint32_t>(s.sample_index));
    smp.set_group_size(static_cast<uint32_t>(n));
    *smp.mutable_prompt_token_ids() = g.prompt.token_ids();
    smp.mutable_response_token_ids()->Add(s.tokens.begin(), s.tokens.end());
    smp.mutable_behaviour_logprob()->Add(s.logprobs.begin(), s.logprobs.end());
    smp.mutable_token_version()->Add(s.versions.begin(), s.versions.end());
    smp.set_policy_version(s.versions.empty() ? g.version : s.versions.front());
    smp.set_rollout_worker_id(worker);
    if (s.segment_starts.empty()) {
        smp.add_segment_starts(0);
    } else {
        for (int start : s.segment_starts) smp.add_segment_starts(static_cast<uint32_t>(start));
    }
    smp.set_segment_count(static_cast<uint32_t>(smp.segment_starts_size()));
    smp.set_label(g.prompt.label());
    smp.mutable_timing()->set_created_unix_ms(g.created_unix_ms);
    stamp_weights_used(smp, g, held);
    return smp;
}

void set_finish_reason(v1::Sample& smp, FinishReason reason) {
    smp.set_finish_reason(reason == FinishReason::stop ? v1::FINISH_REASON_STOP : v1::FINISH_REASON_LENGTH);
}

void set_reward(v1::Sample& smp, const RewardResult& rr) {
    smp.set_reward(static_cast<float>(rr.score));
    static const v1::RewardStatus kStatus[] = {v1::REWARD_STATUS_OK, v1::REWARD_STATUS_ERROR,
                                               v1::REWARD_STATUS_TIMEOUT, v1::REWARD_STATUS_UNPARSEABLE};
    smp.set_reward_status(kStatus[static_cast<int>(rr.status)]);
    smp.set_reward_detail(rr.detail);
    smp.set_correct(rr.correct);
}

bool is_flat(const std::vector<v1::Sample>& group) {
    if (group.size() < 2) return false;
    for (const v1::Sample& s : group)
        if (s.correct() != group.front().correct()) return false;
    return true;
}

RewardInput reward_input(const v1::Prompt& p, const v1::Sample& smp, const Tokenizer& tok,
                         const std::vector<int>& stop_tokens) {
    const std::vector<int> tokens(smp.response_token_ids().begin(), smp.response_token_ids().end());
    RewardInput in;
    in.prompt = p.text();
    in.response = response_text(tok, tokens, stop_tokens);
    in.answer = p.label();
    in.answer_json = p.label_json();
    in.response_tokens = static_cast<int>(tokens.size());
    in.truncated = smp.finish_reason() == v1::FINISH_REASON_LENGTH;
    if (auto it = p.metadata().find("data_source"); it != p.metadata().end()) in.data_source = it->second;
    if (auto it = p.metadata().find("extra_info"); it != p.metadata().end()) in.extra_info_json = it->second;
    return in;
}

v1::InFlightGroup inflight_record(const PendingGroup& g,
                                  const std::vector<const GeneratedSequence*>& unfinished, int n,
                                  const std::string& worker, const WeightsHeld& held) {
    v1::InFlightGroup r;
    *r.mutable_prompt() = g.prompt;
    r.set_worker_id(worker);
    r.set_policy_version(g.version);
    r.set_created_unix_ms(g.created_unix_ms);
    for (const v1::Sample& s : g.done) *r.add_finished() = s;
    for (const v1::Sample& s : g.scoring) *r.add_finished() = s;  // reward status PENDING
    for (const GeneratedSequence* s : unfinished)
        *r.add_unfinished() = response_sample(g, *s, n, worker, held);
    return r;
}

PendingGroup pending_from_record(const v1::InFlightGroup& r) {
    PendingGroup g = take_prompt(r.prompt(), r.policy_version());
    if (r.created_unix_ms() > 0) g.created_unix_ms = r.created_unix_ms();
    for (const v1::Sample& s : r.finished())
        (s.reward_status() == v1::REWARD_STATUS_PENDING ? g.scoring : g.done).push_back(s);
    for (const auto* samples : {&r.finished(), &r.unfinished()})
        for (const v1::Sample& s : *samples)
            for (const v1::WeightsUsed& w : s.weights_used()) g.weights.emplace(w.version(), w.crc32c());
    g.resumed = true;
    return g;
}

GeneratedSequence resumable(const v1::Sample& s, uint64_t request_id) {
    GeneratedSequence g;
    g.request_id = request_id;
    g.sample_index = static_cast<int>(s.index_in_group());
    g.tokens.assign(s.response_token_ids().begin(), s.response_token_ids().end());
    g.logprobs.assign(s.behaviour_logprob().begin(), s.behaviour_logprob().end());
    g.versions.assign(s.token_version().begin(), s.token_version().end());
    g.segment_starts.assign(s.segment_starts().begin(), s.segment_starts().end());
    return g;
}

std::optional<int64_t> oldest_token_version(const PendingGroup& g,
                                            const std::vector<const GeneratedSequence*>& unfinished) {
    std::optional<int64_t> oldest;
    auto see = [&](int64_t v) { oldest = oldest ? std::min(*oldest, v) : v; };
    for (const auto* finished : {&g.done, &g.scoring}) {
        for (const v1::Sample& s : *finished) {
            for (int64_t v : s.token_version()) see(v);
            if (s.token_version_size() == 0) see(s.policy_version());  // an empty response
        }
    }
    for (const GeneratedSequence* s : unfinished)
        for (int64_t v : s->versions) see(v);
    return oldest;
}

}  // namespace stride
