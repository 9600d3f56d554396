// scheduler/scheduler_link.cpp: see scheduler_link.h.
#include "scheduler/scheduler_link.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>

#include "common/base/error.h"
#include "scheduler/registry.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

// $STRIDE_INSTANCE when a supervisor set it (every restart of a worker is the same instance), else
// HOST:PID:RANDOM.
std::string make_instance() {
    if (const char* env = std::getenv("STRIDE_INSTANCE"); env && *env) return env;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    std::random_device rd;
    return fmt::format("{}:{}:{:08x}", host, getpid(), rd());
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// Sleeps up to `ms`, returning early once *stop.
void sleep_unless(const std::atomic<bool>& stop, int ms) {
    const auto until = Clock::now() + std::chrono::milliseconds(ms);
    while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
}

}  // namespace

SchedulerLink::SchedulerLink(LinkOptions opt)
    : opt_(std::move(opt)),
      instance_(make_instance()),
      id_(member_id(opt_.role, opt_.worker)),
      ctx_(opt_.curve) {
    if (const char* env = std::getenv("STRIDE_RESTARTS"); env && *env) restarts_ = std::atoi(env);
}

SchedulerLink::~SchedulerLink() {
    quit_ = true;
    if (heartbeat_.joinable()) heartbeat_.join();
}

v1::Envelope SchedulerLink::hello_envelope(const v1::RoleHello& base) const {
    v1::Envelope env = make_envelope(opt_.job_id);
    v1::RoleHello* h = env.mutable_role_hello();
    *h = base;
    h->set_role(opt_.role);
    h->set_worker(opt_.worker);
    h->set_instance(instance_);
    h->set_config_hash(opt_.config_hash);
    h->set_restarts(restarts_);
    for (const auto& [name, ep] : offered_) (*h->mutable_offers())[name] = ep;
    return env;
}

// One RoleHello; nullopt when the scheduler does not answer within 1 s. Throws on a refusal.
std::optional<v1::Envelope> SchedulerLink::call(RequestClient& client, const v1::RoleHello& hello,
                                                const std::atomic<bool>& stop) {
    auto reply = client.call(hello_envelope(hello), 1000, &stop, 0);
    if (!reply || !reply->has_error()) return reply;
    const v1::Error& e = reply->error();
    if (e.code() == v1::ERROR_CODE_WRONG_JOB)
        throw Error(
            fmt::format("{}: the scheduler at {} serves another job (this role's job is '{}', config "
                        "hash {})",
                        id_, opt_.scheduler, opt_.job_id, opt_.config_hash));
    throw Error(fmt::format("{}: the scheduler at {} refused it: {}", id_, opt_.scheduler, e.message()));
}

EndpointMap SchedulerLink::join(const EndpointMap& offers, const std::vector<std::string>& wants,
                                const std::atomic<bool>& stop, v1::RoleHello hello) {
    for (const auto& [name, ep] : offers) offered_[name] = ep;
    for (const std::string& w : wants) hello.add_wants(w);
    RequestClient client(ctx_, opt_.scheduler, opt_.job_id);
    const auto t0 = Clock::now();
    auto last_answer = t0;
    int backoff_ms = 200, attempt = 0;
    while (!stop) {
        auto reply = call(client, hello, stop);
        if (stop) break;
        if (!reply) {
            STRIDE_CHECK(
                seconds_since(last_answer) < opt_.connect_timeout_s,
                fmt::format("{}: no answer from the scheduler at {} for {:.0f} s "
                            "(network.connect_timeout_s = {})",
                            id_, opt_.scheduler, seconds_since(last_answer), opt_.connect_timeout_s));
            spdlog::warn(
                "{}: registering with the scheduler at {}: no answer (attempt {}), retrying in {:.1f} s", id_,
                opt_.scheduler, ++attempt, backoff_ms / 1000.0);
            sleep_unless(stop, backoff_ms);
            backoff_ms = std::min(backoff_ms * 2, 5000);
            continue;
        }
        last_answer = Clock::now();
        backoff_ms = 200;
        const v1::RoleWelcome& w = reply->role_welcome();
        if (w.missing().empty()) {
            joined_epoch_ = w.pause_epoch();
            pause_requested_ = false;
            return EndpointMap(w.endpoints().begin(), w.endpoints().end());
        }
        if (++attempt % 25 == 1)
            spdlog::info("{}: registered with the scheduler at {}; waiting for {}", id_, opt_.scheduler,
                         joined(w.missing()));
        sleep_unless(stop, 200);
    }
    return {};
}

void SchedulerLink::start_heartbeat(std::atomic<bool>* stop_out) {
    heartbeat_ = std::thread([this, stop_out] { heartbeat_loop(stop_out); });
}

void SchedulerLink::heartbeat_loop(std::atomic<bool>* stop_out) {
    RequestClient client(ctx_, opt_.scheduler, opt_.job_id);
    auto last_answer = Clock::now();
    while (!quit_ && !*stop_out) {
        std::optional<v1::Envelope> reply;
        try {
            reply = call(client, {}, quit_);
        } catch (const std::exception& e) {
            spdlog::error("{}", e.what());  // refused now (another instance took our id): stop
            lost_ = true;
            *stop_out = true;
            return;
        }
        if (reply) {
            last_answer = Clock::now();
            const v1::RoleWelcome& w = reply->role_welcome();
            // Only rollout workers pause (the buffer serves the trainer's resume).
            if (opt_.role == "rollout" && w.pause_rollouts() && w.pause_epoch() > joined_epoch_ &&
                !pause_requested_) {
                spdlog::warn("{}: the trainer restarted; pausing until it resumes", id_);
                pause_requested_ = true;
            }
            if (w.job_done()) {
                spdlog::info("{}: the scheduler says the job is done; stopping", id_);
                job_done_ = true;
                *stop_out = true;
                return;
            }
        } else if (seconds_since(last_answer) >= opt_.lost_after_s) {
            spdlog::error(
                "{}: no answer from the scheduler at {} for {:.0f} s (network.lost_after_s); stopping", id_,
                opt_.scheduler, seconds_since(last_answer));
            lost_ = true;
            *stop_out = true;
            return;
        }
        sleep_unless(quit_, 250);
    }
}

bool SchedulerLink::pause_rollouts(const std::atomic<bool>& stop, double deadline_s) {
    RequestClient client(ctx_, opt_.scheduler, opt_.job_id);
    v1::RoleHello hello;
    hello.set_trainer_restarting(true);
    const auto t0 = Clock::now();
    bool logged = false;
    while (!stop) {
        const auto reply = call(client, hello, stop);
        if (reply && reply->role_welcome().rollouts_paused()) {
            spdlog::info("{}: every rollout worker has paused ({:.1f} s)", id_, seconds_since(t0));
            return true;
        }
        if (!logged) spdlog::info("{}: waiting for the rollout workers to pause", id_);
        logged = true;
        STRIDE_CHECK(seconds_since(t0) < deadline_s,
                     fmt::format("{}: the rollout workers did not pause within {:.0f} s", id_, deadline_s));
        sleep_unless(stop, 100);
    }
    return false;
}

bool SchedulerLink::announce_finished() {
    RequestClient client(ctx_, opt_.scheduler, opt_.job_id);
    v1::RoleHello hello;
    hello.set_finished(true);
    const std::atomic<bool> never{false};
    const auto t0 = Clock::now();
    while (seconds_since(t0) < 10) {
        if (call(client, hello, never)) return true;
    }
    spdlog::warn("{}: could not tell the scheduler at {} that the job finished", id_, opt_.scheduler);
    return false;
}

}  // namespace stride
