// scheduler/registry.cpp: see registry.h.
#include "scheduler/registry.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace stride {

using Clock = std::chrono::steady_clock;

std::string member_id(const std::string& role, int worker) {
    return role == "rollout" ? "rollout-" + std::to_string(worker) : role;
}

Registry::Registry(const RegistryOptions& opt)
    : opt_(opt),
      ctx_(opt.curve),
      sock_(ctx_, opt.bind, 1 << 20),
      endpoint_(sock_.endpoint()),
      nccl_(opt.lost_after_s) {
    thread_ = std::thread([this] { serve(); });
}

Registry::~Registry() {
    stop_ = true;
    thread_.join();
}

void Registry::offer(const std::string& name, const std::string& endpoint) {
    std::lock_guard<std::mutex> lock(mu_);
    endpoints_[name] = endpoint;
}

std::optional<TrainerStart> Registry::wait_for_trainer(const std::atomic<bool>& stop) {
    while (!stop) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (trainer_start_) return trainer_start_;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
}

bool Registry::job_done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
}

std::map<std::string, std::string> Registry::endpoints() const {
    std::lock_guard<std::mutex> lock(mu_);
    return endpoints_;
}

bool Registry::all_told() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!done_) return false;
    const auto lost = std::chrono::duration<double>(opt_.lost_after_s);
    for (const auto& [id, m] : members_)
        if (!m.told_done && Clock::now() - m.last_seen < lost) return false;
    return true;
}

void Registry::on_lost(std::function<void(const std::string&)> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    on_lost_ = std::move(fn);
}

void Registry::set_resume_counter(std::function<int64_t()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    resumes_ = std::move(fn);
}

int Registry::restarts_of(const std::string& role) const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& [id, m] : members_)
        if (m.role == role) n += m.restarts;
    return n;
}

// Under mu_. Begins a pause for a restarted trainer, ends it once the trainer has resumed, and notes a
// rollout worker that is registering (it wants endpoints: it generates nothing) as paused.
void Registry::update_pause(const v1::RoleHello& hello, Member& m) {
    const int64_t resumes = resumes_ ? resumes_() : 0;
    if (hello.trainer_restarting() && !pausing_) {
        ++pause_epoch_;
        pausing_ = true;
        resumes_at_pause_ = resumes;
        spdlog::warn(
            "registry: the trainer restarted; pausing the rollout workers until it resumes (pause {})",
            pause_epoch_);
    } else if (pausing_ && resumes > resumes_at_pause_) {
        pausing_ = false;
        spdlog::info("registry: the trainer resumed; the rollout workers go on (pause {} over)",
                     pause_epoch_);
    }
    if (hello.role() == "rollout" && hello.wants_size() > 0) m.paused_for = pause_epoch_;
}

bool Registry::rollouts_paused() const {
    for (const auto& [id, m] : members_)
        if (m.role == "rollout" && !m.lost && m.paused_for < pause_epoch_) return false;
    return true;
}

// Called under mu_, so that once on_lost({}) returns no call of the old function is still under way.
void Registry::notice_lost() {
    std::lock_guard<std::mutex> lock(mu_);
    const auto after = std::chrono::duration<double>(opt_.lost_after_s);
    for (auto& [id, m] : members_) {
        if (m.lost || m.told_done || Clock::now() - m.last_seen < after) continue;
        m.lost = true;
        spdlog::warn("registry: {} (instance {}) silent for {:.1f} s (network.lost_after_s): lost", id,
                     m.instance, opt_.lost_after_s);
        if (on_lost_) on_lost_(id);
    }
}

void Registry::serve() {
    auto checked = Clock::now();
    while (!stop_) {
        if (Clock::now() - checked > std::chrono::milliseconds(200)) {
            notice_lost();
            checked = Clock::now();
        }
        auto req = sock_.recv(50);
        if (!req) continue;
        v1::Envelope in;
        const EnvelopeCheck check = decode_envelope(req->payload, opt_.job_id, &in);
        v1::Envelope out;
        if (check.ok() && in.has_role_hello()) {
            out = answer(in.role_hello());
        } else if (check.ok() && in.has_nccl_join()) {
            std::lock_guard<std::mutex> lock(mu_);
            out = nccl_.answer(opt_.job_id, in.nccl_join());
        } else {
            ++refused_;
            out = check.ok() ? make_error(opt_.job_id, v1::ERROR_CODE_UNKNOWN_BODY,
                                          "the registry serves RoleHello and NcclJoin")
                             : make_rejection(check);  // never tells a stranger our job id
        }
        sock_.reply(*req, encode_envelope(out));
    }
}

// Why `hello` is refused, if it is: another config, or a worker id a live instance holds.
std::optional<std::string> Registry::refusal(const v1::RoleHello& hello, const std::string& id) const {
    if (hello.config_hash() != opt_.config_hash)
        return fmt::format(
            "{} ({}) runs config hash {}, the scheduler's job has config hash {}: every role must load the "
            "job's config file with the same key=value overrides",
            id, hello.instance(), hello.config_hash(), opt_.config_hash);
    auto it = members_.find(id);
    if (it == members_.end() || it->second.instance == hello.instance()) return std::nullopt;
    const double silent = std::chrono::duration<double>(Clock::now() - it->second.last_seen).count();
    if (silent >= opt_.lost_after_s) return std::nullopt;  // the old instance is gone: take its place
    return fmt::format(
        "worker id {} is already registered by instance {} (heard from {:.1f} s ago); instance {} refused: "
        "give each role instance its own --worker",
        id, it->second.instance, silent, hello.instance());
}

v1::Envelope Registry::answer(const v1::RoleHello& hello) {
    const std::string id = member_id(hello.role(), hello.worker());
    std::lock_guard<std::mutex> lock(mu_);
    if (auto why = refusal(hello, id)) {
        ++refused_;
        spdlog::warn("registry: refused: {}", *why);
        return make_error(opt_.job_id, v1::ERROR_CODE_INVALID_ARGUMENT, *why);
    }
    Member& m = members_[id];
    if (m.instance != hello.instance())
        spdlog::info("registry: {} registered (instance {})", id, hello.instance());
    else if (m.lost)
        spdlog::info("registry: {} (instance {}) is back", id, hello.instance());
    m.lost = false;
    m.instance = hello.instance();
    m.last_seen = Clock::now();
    m.role = hello.role();
    m.restarts = std::max(m.restarts, hello.restarts());
    update_pause(hello, m);
    for (const auto& [name, ep] : hello.offers()) {
        if (endpoints_[name] != ep) spdlog::info("registry: {} serves {} at {}", id, name, ep);
        endpoints_[name] = ep;
    }
    if (hello.has_start() && hello.offers().count("weights"))
        trainer_start_ =
            TrainerStart{hello.offers().at("weights"), hello.start_prompt(), hello.start_extra_prompts()};
    if (hello.finished() && !done_) {
        spdlog::info("registry: {} finished the job; telling every role to stop", id);
        done_ = true;
    }
    v1::Envelope out = make_envelope(opt_.job_id);
    v1::RoleWelcome* w = out.mutable_role_welcome();
    w->set_config_hash(opt_.config_hash);
    for (const auto& [name, ep] : endpoints_) (*w->mutable_endpoints())[name] = ep;
    // While paused, a rollout worker gets no weights nor prompts: it waits in its registration.
    const bool withhold = pausing_ && hello.role() == "rollout";
    for (const std::string& want : hello.wants())
        if (!endpoints_.count(want) || (withhold && (want == "weights" || want == "prompts")))
            w->add_missing(want);
    w->set_job_done(done_);
    w->set_pause_epoch(pause_epoch_);
    w->set_pause_rollouts(pausing_);
    w->set_rollouts_paused(rollouts_paused());
    if (done_) m.told_done = true;
    return out;
}

}  // namespace stride
