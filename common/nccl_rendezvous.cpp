// common/nccl_rendezvous.cpp: see nccl_rendezvous.h.
#include "common/nccl_rendezvous.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "common/base/error.h"

namespace stride {

bool is_nccl_member_name(const std::string& member) {
    if (member == "trainer") return true;
    const std::string prefix = "rollout-";
    if (member.size() <= prefix.size() || member.compare(0, prefix.size(), prefix) != 0) return false;
    const std::string digits = member.substr(prefix.size());
    if (digits.size() > 1 && digits[0] == '0') return false;
    return std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// ---- the registry's side ---------------------------------------------------------------------------

bool NcclRendezvous::live(const std::string& member) const {
    auto it = seen_.find(member);
    return it != seen_.end() &&
           std::chrono::duration<double>(Clock::now() - it->second.last_seen).count() < lost_after_s_;
}

std::optional<std::string> NcclRendezvous::refusal(const v1::NcclJoin& join) const {
    if (!is_nccl_member_name(join.member()))
        return fmt::format("NcclJoin: member '{}' is neither 'trainer' nor 'rollout-I'", join.member());
    if (join.instance().empty()) return fmt::format("NcclJoin from {}: no instance", join.member());
    if (join.unique_id().empty() && join.members().empty()) return std::nullopt;
    if (join.member() != "trainer")
        return fmt::format("NcclJoin from {}: only the trainer (rank 0) forms a group", join.member());
    if (join.unique_id().size() != kNcclUniqueIdBytes)
        return fmt::format("NcclJoin from trainer: the unique id has {} bytes, not {}",
                           join.unique_id().size(), kNcclUniqueIdBytes);
    if (join.members().empty() || join.members(0) != "trainer")
        return std::string("NcclJoin from trainer: a group's rank 0 (members[0]) must be 'trainer'");
    std::set<std::string> once;
    for (const std::string& m : join.members()) {
        if (!once.insert(m).second) return fmt::format("NcclJoin from trainer: member {} listed twice", m);
        if (m != "trainer" && !seen_.count(m))
            return fmt::format("NcclJoin from trainer: member {} has never asked to join", m);
    }
    return std::nullopt;
}

void NcclRendezvous::form(const v1::NcclJoin& join) {
    ++generation_;
    unique_id_ = join.unique_id();
    members_.assign(join.members().begin(), join.members().end());
    formed_with_.clear();
    for (const std::string& m : members_) formed_with_[m] = seen_.at(m).instance;
}

v1::Envelope NcclRendezvous::answer(const std::string& job_id, const v1::NcclJoin& join) {
    if (auto why = refusal(join)) return make_error(job_id, v1::ERROR_CODE_INVALID_ARGUMENT, *why);
    seen_[join.member()] = Seen{join.instance(), Clock::now()};
    if (!join.unique_id().empty()) form(join);
    v1::Envelope out = make_envelope(job_id);
    v1::NcclGroup* g = out.mutable_nccl_group();
    g->set_generation(generation_);
    g->set_unique_id(unique_id_);
    g->set_rank(-1);
    for (size_t r = 0; r < members_.size(); ++r) {
        g->add_members(members_[r]);
        if (members_[r] == join.member() && formed_with_[members_[r]] == join.instance())
            g->set_rank(static_cast<int>(r));
    }
    for (const auto& [member, s] : seen_) {
        if (!live(member)) continue;
        auto it = formed_with_.find(member);
        if (it == formed_with_.end() || it->second != s.instance) g->add_waiting(member);
    }
    for (const std::string& m : members_)
        if (!live(m)) g->add_lost(m);
    return out;
}

NcclRendezvousServer::NcclRendezvousServer(std::string job_id, const std::string& bind_endpoint,
                                           double lost_after_s, std::shared_ptr<const CurveKeys> curve)
    : job_id_(std::move(job_id)), table_(lost_after_s), ctx_(std::move(curve)), sock_(ctx_, bind_endpoint) {
    thread_ = std::thread([this] {
        while (!stop_) {
            auto req = sock_.recv(20);
            if (!req) continue;
            v1::Envelope in;
            const EnvelopeCheck check = decode_envelope(req->payload, job_id_, &in);
            v1::Envelope out;
            if (check.ok() && in.has_nccl_join())
                out = table_.answer(job_id_, in.nccl_join());
            else if (check.ok())
                out = make_error(job_id_, v1::ERROR_CODE_UNKNOWN_BODY,
                                 "the NCCL rendezvous serves NcclJoin only");
            else
                out = make_rejection(check);  // never tells a stranger our job id
            sock_.reply(*req, encode_envelope(out));
        }
    });
}

NcclRendezvousServer::~NcclRendezvousServer() {
    stop_ = true;
    thread_.join();
}

// ---- a member's side -------------------------------------------------------------------------------

NcclRendezvousClient::NcclRendezvousClient(ZmqContext& ctx, const std::string& scheduler, std::string job_id,
                                           std::string member, std::string instance)
    : client_(ctx, scheduler, std::move(job_id)), member_(std::move(member)), instance_(std::move(instance)) {
    STRIDE_CHECK(is_nccl_member_name(member_),
                 "NCCL rendezvous: member '" + member_ + "' is neither 'trainer' nor 'rollout-I'");
}

std::optional<v1::NcclGroup> NcclRendezvousClient::call(const v1::NcclJoin& join, int timeout_ms,
                                                        const std::atomic<bool>* stop) {
    v1::Envelope env = make_envelope(client_.job_id());
    *env.mutable_nccl_join() = join;
    env.mutable_nccl_join()->set_member(member_);
    env.mutable_nccl_join()->set_instance(instance_);
    auto reply = client_.call(env, timeout_ms, stop, 0);
    if (!reply) return std::nullopt;
    STRIDE_CHECK(!reply->has_error(),
                 fmt::format("NCCL rendezvous: {} was refused by the scheduler at {}: {}", member_,
                             client_.endpoint(), reply->error().message()));
    STRIDE_CHECK(reply->has_nccl_group(),
                 fmt::format("NCCL rendezvous: the scheduler at {} answered NcclJoin "
                             "without an NcclGroup (an older scheduler?)",
                             client_.endpoint()));
    return reply->nccl_group();
}

std::optional<v1::NcclGroup> NcclRendezvousClient::ask(int64_t have_generation, int timeout_ms,
                                                       const std::atomic<bool>* stop) {
    v1::NcclJoin join;
    join.set_generation(have_generation);
    return call(join, timeout_ms, stop);
}

std::optional<v1::NcclGroup> NcclRendezvousClient::form(const std::string& unique_id,
                                                        const std::vector<std::string>& members,
                                                        int timeout_ms, const std::atomic<bool>* stop) {
    v1::NcclJoin join;
    join.set_generation(-1);
    join.set_unique_id(unique_id);
    for (const std::string& m : members) join.add_members(m);
    return call(join, timeout_ms, stop);
}

std::vector<std::string> next_nccl_members(const v1::NcclGroup& current) {
    std::set<std::string> lost(current.lost().begin(), current.lost().end());
    std::set<std::string> next;
    for (const std::string& m : current.members())
        if (m != "trainer" && !lost.count(m)) next.insert(m);
    for (const std::string& m : current.waiting())
        if (m != "trainer") next.insert(m);
    std::vector<std::string> out{"trainer"};
    out.insert(out.end(), next.begin(), next.end());
    return out;
}

}  // namespace stride
