// job/weight_group.cpp: see weight_group.h.
#include "job/weight_group.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "common/base/deadline_poll.h"
#include "common/weight_sync.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRendezvousAnswerMs = 2000;

MetricsRegistry& registry_of(const WeightGroupOptions& o) {
    return o.metrics ? *o.metrics : MetricsRegistry::global();
}

std::string role_of(const std::string& member) {
    return member == "trainer" ? "trainer" : "rollout";
}

void observe_transfer(const WeightGroupOptions& o, double seconds) {
    record_weight_transfer(registry_of(o), o.job_id, o.member, "nccl", seconds);
}

TransferOptions transfer_options(const WeightGroupOptions& o, const std::atomic<bool>* stop) {
    TransferOptions t;
    t.timeout_s = o.timeout_s;
    t.stop = stop;
    t.bucket_elems = o.bucket_elems;
    return t;
}

std::string join_list(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

}  // namespace

void record_weight_transfer(MetricsRegistry& r, const std::string& job, const std::string& member,
                            const std::string& transport, double seconds) {
    r.histogram("stride_weight_transfer_seconds",
                "Seconds of one weight version's transfer to the rollout workers",
                {"job", "role", "worker", "transport"}, exponential_buckets(0.01, 2, 14))
        .with({job, role_of(member), member, transport})
        .observe(seconds);
}

std::string count_weight_sync_failure(MetricsRegistry& r, const std::string& job, const std::string& member,
                                      const std::string& transport, const std::string& reason) {
    r.counter("stride_weight_sync_failures",
              "Weight transfers (or joins of a weight group) that gave up: the version went over ZeroMQ",
              {"job", "role", "worker", "transport", "reason"})
        .with({job, role_of(member), member, transport, reason})
        .inc();
    return reason;
}

std::string weight_failure_reason(const std::exception& e) {
    if (auto* d = dynamic_cast<const DeadlineError*>(&e))
        return d->outcome() == WaitOutcome::expired   ? "expired"
               : d->outcome() == WaitOutcome::stopped ? "stopped"
                                                      : "failed";
    const std::string what = e.what();
    return what.find("CRC-32C") != std::string::npos ? "corrupt" : "failed";
}

// ---- the trainer ---------------------------------------------------------------------------------

WeightGroupSender::WeightGroupSender(WeightGroupOptions opt, WeightChannelFactory make_channel,
                                     std::function<std::string()> make_unique_id)
    : opt_(std::move(opt)),
      make_channel_(std::move(make_channel)),
      make_unique_id_(std::move(make_unique_id)),
      ctx_(opt_.curve),
      client_(ctx_, opt_.rendezvous, opt_.job_id, opt_.member, opt_.instance) {
    STRIDE_CHECK(opt_.member == "trainer", "weight group: the sender is the trainer, not " + opt_.member);
}

void WeightGroupSender::drop_channel() {
    channel_.reset();
    generation_ = -1;
    members_.clear();
}

int64_t WeightGroupSender::prepare() {
    try {
        return keep_current();
    } catch (const Error& e) {  // the rendezvous refused (another job, a bad request): ZeroMQ carries on
        spdlog::error("weight group: {}; this version goes over ZeroMQ only", e.what());
        drop_channel();
        return -1;
    }
}

int64_t WeightGroupSender::keep_current() {
    auto current = client_.ask(generation_, kRendezvousAnswerMs, opt_.stop);
    const bool healthy = channel_ && !channel_->broken();
    if (!current) {
        spdlog::warn("weight group: the rendezvous at {} did not answer; {}", opt_.rendezvous,
                     healthy ? "keeping the current group" : "this version goes over ZeroMQ only");
        return healthy ? generation_ : -1;
    }
    if (healthy && current->generation() == generation_ && current->waiting().empty() &&
        current->lost().empty())
        return generation_;
    if (!current->lost().empty())
        spdlog::warn("weight group: {} lost (silent at the rendezvous); the group forms without them",
                     join_list({current->lost().begin(), current->lost().end()}));
    drop_channel();
    const std::vector<std::string> members = next_nccl_members(*current);
    if (members.size() < 2) return -1;  // no worker to broadcast to
    auto formed = client_.form(make_unique_id_(), members, kRendezvousAnswerMs, opt_.stop);
    if (!formed) return -1;
    try {
        channel_ = make_channel_(*formed, {opt_.timeout_s, opt_.stop});
    } catch (const std::exception& e) {
        ++failures_;
        count_weight_sync_failure(registry_of(opt_), opt_.job_id, opt_.member, "nccl", "init");
        spdlog::error("weight group: generation {} ({}) did not form: {}; this version goes over ZeroMQ",
                      formed->generation(), join_list(members), e.what());
        channel_.reset();
        return -1;
    }
    generation_ = formed->generation();
    members_ = members;
    spdlog::info("weight group: generation {} formed: {}", generation_, join_list(members_));
    return generation_;
}

bool WeightGroupSender::send(int64_t version, const float* src, size_t n, uint32_t wire_crc,
                             uint32_t tensors) {
    if (!channel_ || channel_->broken()) return false;
    const auto t0 = Clock::now();
    try {
        send_weight_version(*channel_, version, src, n, wire_crc, tensors, transfer_options(opt_, opt_.stop));
    } catch (const std::exception& e) {
        ++failures_;
        const std::string reason = count_weight_sync_failure(registry_of(opt_), opt_.job_id, opt_.member,
                                                             "nccl", weight_failure_reason(e));
        spdlog::error(
            "weight group: version {} to generation {} ({}) gave up ({}): {}; it goes over ZeroMQ and "
            "the group re-forms at the next publish",
            version, generation_, join_list(members_), reason, e.what());
        channel_->abort();
        drop_channel();
        return false;
    }
    observe_transfer(opt_, std::chrono::duration<double>(Clock::now() - t0).count());
    return true;
}

// ---- a rollout worker ----------------------------------------------------------------------------

WeightGroupReceiver::WeightGroupReceiver(WeightGroupOptions opt, WeightChannelFactory make_channel,
                                         std::string weights_endpoint, size_t expect_elements)
    : opt_(std::move(opt)),
      make_channel_(std::move(make_channel)),
      weights_endpoint_(std::move(weights_endpoint)),
      expect_elements_(expect_elements) {
    STRIDE_CHECK(is_nccl_member_name(opt_.member) && opt_.member != "trainer",
                 "weight group: a receiver is a rollout worker ('rollout-I'), not '" + opt_.member + "'");
    thread_ = std::thread([this] { run(); });
}

WeightGroupReceiver::~WeightGroupReceiver() {
    stop_ = true;
    thread_.join();
}

std::optional<ReceivedWeights> WeightGroupReceiver::take_if_newer(int64_t have) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ready_ || ready_->version <= have) return std::nullopt;
    std::optional<ReceivedWeights> out = std::move(ready_);
    ready_.reset();
    return out;
}

bool WeightGroupReceiver::expects(const v1::WeightUpdate& update) const {
    return update.nccl() && update.nccl_generation() == generation_ && generation_ >= 0 &&
           update.version() > given_up_;
}

void WeightGroupReceiver::run() {
    ZmqContext ctx(opt_.curve);
    std::optional<NcclRendezvousClient> client;
    WeightSubscriber publisher(opt_.job_id, weights_endpoint_, 1, false, opt_.curve);
    auto last_ask = Clock::now() - std::chrono::hours(1);
    int client_of_rejoin = -1;
    while (!stop_ && !(opt_.stop && *opt_.stop)) {
        if (client_of_rejoin != rejoins_) {  // a re-join asks as a new instance: listed as waiting
            client.emplace(ctx, opt_.rendezvous, opt_.job_id, opt_.member,
                           rejoins_ == 0 ? opt_.instance : fmt::format("{}#{}", opt_.instance, rejoins_));
            client_of_rejoin = rejoins_;
        }
        if (Clock::now() - last_ask >= std::chrono::milliseconds(opt_.ask_every_ms)) {
            last_ask = Clock::now();
            try {
                auto g = client->ask(generation_, kRendezvousAnswerMs, &stop_);
                if (g && g->generation() != generation_) {
                    if (g->rank() >= 1) {
                        join(*g);
                    } else if (channel_) {  // formed without us: the old channel is of no use
                        channel_.reset();
                        generation_ = -1;
                    }
                }
            } catch (const std::exception& e) {
                spdlog::warn("weight group: {}: {}", opt_.member, e.what());
            }
        }
        if (!channel_) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        auto update = publisher.latest(100);
        if (update && update->version() > last_version_ && expects(*update))
            receive(update->version());
        else  // each poll is a WeightUpdate with the tensor table: 20 a second is enough to enter in time
            std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
}

void WeightGroupReceiver::join(const v1::NcclGroup& g) {
    channel_.reset();
    generation_ = -1;
    try {
        channel_ = make_channel_(g, {opt_.timeout_s, &stop_});
    } catch (const std::exception& e) {
        ++failures_;
        count_weight_sync_failure(registry_of(opt_), opt_.job_id, opt_.member, "nccl", "init");
        rejoin(fmt::format("generation {} did not form: {}", g.generation(), e.what()));
        return;
    }
    generation_ = g.generation();
    spdlog::info("weight group: {} joined generation {} as rank {}", opt_.member, g.generation(), g.rank());
}

void WeightGroupReceiver::receive(int64_t announced) {
    ReceivedWeights r;
    const auto t0 = Clock::now();
    try {
        const WeightWireHeader h =
            receive_weight_version(*channel_, r.weights, expect_elements_, transfer_options(opt_, &stop_));
        r.version = h.version;
        r.wire_crc32c = h.crc32c;
    } catch (const std::exception& e) {
        ++failures_;
        given_up_ = announced;
        last_version_ = announced;
        const std::string reason = count_weight_sync_failure(registry_of(opt_), opt_.job_id, opt_.member,
                                                             "nccl", weight_failure_reason(e));
        const std::string why = fmt::format("version {} gave up ({}): {}", announced, reason, e.what());
        if (channel_->broken())
            rejoin(why);
        else
            spdlog::error("weight group: {}: {}; it is fetched over ZeroMQ", opt_.member, why);
        return;
    }
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    observe_transfer(opt_, r.seconds);
    last_version_ = r.version;
    ++received_;
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = std::move(r);
}

// The channel is gone: fetch over ZeroMQ until the trainer forms a generation with this worker again.
void WeightGroupReceiver::rejoin(const std::string& why) {
    spdlog::error("weight group: {}: {}; fetching over ZeroMQ and re-joining", opt_.member, why);
    if (channel_) channel_->abort();
    channel_.reset();
    generation_ = -1;
    ++rejoins_;
}

}  // namespace stride
