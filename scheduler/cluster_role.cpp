// scheduler/cluster_role.cpp: see cluster_role.h.
#include "scheduler/cluster_role.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "buffer/buffer_server.h"
#include "common/base/error.h"
#include "common/bind_endpoint.h"
#include "common/listen_policy.h"
#include "common/log.h"
#include "common/progress_meter.h"
#include "rollout/rollout_worker.h"
#include "scheduler/config_hash.h"
#include "scheduler/registry.h"
#include "scheduler/roles.h"
#include "scheduler/scheduler_link.h"
#include "trainer/trainer_role.h"

namespace stride {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

void wait_until(const std::atomic<bool>& stop) {
    while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

// tcp://HOST:PORT -> HOST ("" for other transports).
std::string tcp_host(const std::string& endpoint) {
    if (endpoint.rfind("tcp://", 0) != 0) return "";
    const std::string addr = endpoint.substr(6);
    return addr.substr(0, addr.rfind(':'));
}

LinkOptions link_options(const JobConfig& cfg, const ClusterRoleArgs& a) {
    STRIDE_CHECK(!a.scheduler.empty(), "role " + a.role + ": --scheduler tcp://HOST:PORT is needed");
    LinkOptions o;
    o.scheduler = a.scheduler;
    o.job_id = cfg.name;
    o.config_hash = job_config_hash(cfg);
    o.role = a.role;
    o.worker = a.worker;
    o.connect_timeout_s = cfg.network.connect_timeout_s;
    o.lost_after_s = cfg.network.lost_after_s;
    return o;
}

// ---- scheduler --------------------------------------------------------------------------------------

// Waits until every role was told the job is done (or went silent), at most lost_after_s more.
void wait_roles_told(const Registry& reg, const JobConfig& cfg, const std::atomic<bool>& stop) {
    const auto done_at = Clock::now();
    while (!stop && !reg.all_told() &&
           std::chrono::duration<double>(Clock::now() - done_at).count() < cfg.network.lost_after_s)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

int run_scheduler(const JobConfig& cfg, const ClusterRoleArgs& a, std::atomic<bool>& stop) {
    const std::string key = a.scheduler.empty() ? "network.scheduler_bind" : "--scheduler";
    const std::string bind = a.scheduler.empty() ? cfg.network.scheduler_bind : a.scheduler;
    STRIDE_CHECK(!bind.empty(),
                 "network.scheduler_bind: empty, and no --scheduler: where should the scheduler "
                 "listen (e.g. tcp://*:7400)?");
    check_bind_key(key, bind, cfg.network.unauthenticated, "");
    const std::string hash = job_config_hash(cfg);
    Registry reg({cfg.name, hash, bind, cfg.network.lost_after_s});
    std::printf("scheduler: registry at %s, job '%s', config hash %s\n", reg.endpoint().c_str(),
                cfg.name.c_str(), hash.c_str());
    std::fflush(stdout);
    JobContext ctx = make_job_context(cfg);
    const auto trainer = reg.wait_for_trainer(stop);
    if (!trainer) return 130;
    JobState start;
    start.prompts_dispatched = trainer->start_prompt;
    start.extra_prompts = trainer->start_extra_prompts;
    const std::string host = tcp_host(bind);
    const std::string prompts_default = host.empty() ? "tcp://127.0.0.1:*" : "tcp://" + host + ":*";
    const std::string prompts_bind =
        cfg.network.prompts_bind.empty() ? prompts_default : cfg.network.prompts_bind;
    check_bind_key("network.prompts_bind", prompts_bind, cfg.network.unauthenticated, "");
    PromptDispatcher d(ctx, prompts_bind, trainer->weights, dispatcher_options(cfg, start));
    reg.offer("prompts", advertised_endpoint(d.endpoint(), advertise_host(a.advertise)));
    while (!stop && !reg.job_done()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!reg.job_done()) return 130;
    wait_roles_told(reg, cfg, stop);
    std::printf("scheduler: job done, %lld prompts dispatched from %lld\n", (long long)d.dispatched(),
                (long long)trainer->start_prompt);
    return 0;
}

// ---- buffer -----------------------------------------------------------------------------------------

// A fresh start (resume: off) never serves an earlier run's samples: overwrite=true clears the
// directory, otherwise a directory that holds data is refused.
void prepare_buffer_dir(const JobConfig& cfg, const std::string& dir) {
    if (cfg.resume != "off") return;
    std::error_code ec;
    const bool has_data = fs::exists(dir, ec) && !fs::is_empty(dir, ec);
    if (!has_data) return;
    STRIDE_CHECK(cfg.overwrite,
                 fmt::format("{} holds an earlier run's buffer; resume=auto continues that run, "
                             "overwrite=true starts over and clears it",
                             dir));
    fs::remove_all(dir);
}

int run_buffer(const JobConfig& cfg, const ClusterRoleArgs& a, std::atomic<bool>& stop) {
    JobContext ctx = make_job_context(cfg);
    BufferServerConfig bc =
        buffer_server_config(ctx, cluster_bind("buffer.endpoint", cfg.buffer.endpoint, cfg, a.scheduler));
    prepare_buffer_dir(cfg, bc.dir);
    BufferServer server(bc);
    server.start();
    SchedulerLink link(link_options(cfg, a));
    link.join({{"buffer", advertised_endpoint(server.endpoint(), advertise_host(a.advertise))}}, {}, stop);
    link.start_heartbeat(&stop);
    wait_until(stop);
    server.stop();
    return link.lost() ? 1 : 0;
}

// ---- trainer ----------------------------------------------------------------------------------------

// A fresh start in a run directory with an earlier run's checkpoints needs overwrite=true (as
// `stride run`); then they go, with metrics.jsonl.
void prepare_trainer_dir(const JobConfig& cfg, const StartingPolicy& p) {
    if (p.resumed) return;
    const std::string ckpts = cfg.run_path() + "/checkpoints";
    std::error_code ec;
    if (fs::exists(ckpts, ec) && !fs::is_empty(ckpts, ec)) {
        STRIDE_CHECK(cfg.overwrite || cfg.resume != "off",
                     fmt::format("{} holds an earlier run's checkpoints; resume=auto continues that run, "
                                 "overwrite=true starts over and removes them",
                                 ckpts));
        fs::remove_all(ckpts);
    }
    fs::remove(metrics_jsonl_path(cfg), ec);
}

int run_trainer(const JobConfig& cfg, const ClusterRoleArgs& a, std::atomic<bool>& stop) {
    JobContext ctx = make_job_context(cfg);
    SchedulerLink link(link_options(cfg, a));
    EndpointMap ep = link.join({}, {"buffer"}, stop);
    if (stop) return 130;
    StartingPolicy p = starting_policy(ctx, SftMode::run, stop);
    if (stop) return 130;
    prepare_trainer_dir(cfg, p);
    const std::string weights_bind =
        cluster_bind("network.weights_bind", cfg.network.weights_bind, cfg, a.scheduler);
    TrainerRole trainer(ctx, std::move(*p.model), p.state, std::move(p.adam), ep.at("buffer"), weights_bind);
    v1::RoleHello start;
    start.set_has_start(true);
    start.set_start_prompt(p.state.prompts_dispatched);
    start.set_start_extra_prompts(p.state.extra_prompts);
    const std::string weights = advertised_endpoint(trainer.weights_endpoint(), advertise_host(a.advertise));
    ep = link.join({{"weights", weights}}, {"prompts"}, stop, start);
    if (stop) return 130;
    trainer.connect_scheduler(ep.at("prompts"));
    link.start_heartbeat(&stop);
    // This role's own stderr (its machine's terminal or the batch job's output): the status line.
    ProgressMeter progress("step", cfg.trainer.steps, trainer.state().step);
    trainer.run(stop, [&](const TrainerProgress& pr) {
        show_status_line(progress.update(pr.step, pr.tokens, progress_fields(pr)));
    });
    end_status_line();
    const bool finished = trainer.state().step >= cfg.trainer.steps;
    if (finished) link.announce_finished();
    std::printf("trainer: %s at step %lld of %d\n", finished ? "finished" : "stopped",
                (long long)trainer.state().step, cfg.trainer.steps);
    return finished ? 0 : (link.lost() ? 1 : 130);
}

// ---- rollout ----------------------------------------------------------------------------------------

int run_rollout(const JobConfig& cfg, const ClusterRoleArgs& a, std::atomic<bool>& stop) {
    JobContext ctx = make_job_context(cfg);
    SchedulerLink link(link_options(cfg, a));
    const EndpointMap ep = link.join({}, {"prompts", "buffer", "weights"}, stop);
    if (stop) return 130;
    link.start_heartbeat(&stop);
    RolloutWorker w(ctx, member_id("rollout", a.worker),
                    RolloutEndpoints{ep.at("prompts"), ep.at("buffer"), ep.at("weights")});
    w.run(stop);
    wait_until(stop);  // done with the job's prompts: stay until the scheduler says the job is done
    // 0 only when the job is done: a supervisor (recovery.rollout_restarts) restarts anything else.
    return link.job_done() ? 0 : (link.lost() ? 1 : 130);
}

}  // namespace

std::string advertise_host(const std::string& flag) {
    if (!flag.empty()) return flag;
    if (const char* env = std::getenv("STRIDE_ADVERTISE_HOST"); env && *env) return env;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    return host;
}

std::string cluster_bind(const std::string& key, const std::string& value, const JobConfig& cfg,
                         const std::string& scheduler) {
    std::string bind = value;
    if (bind.empty()) bind = is_loopback_host(tcp_host(scheduler)) ? "tcp://127.0.0.1:*" : "tcp://*:*";
    STRIDE_CHECK(bind.rfind("inproc://", 0) != 0, key + ": inproc:// endpoints cannot cross processes");
    try {
        check_bind_key(key, bind, cfg.network.unauthenticated, "");
    } catch (const Error& e) {
        if (!value.empty()) throw;
        throw Error(std::string(e.what()) + " (" + bind +
                    " is the default of a role whose scheduler is not on "
                    "loopback; or set " +
                    key + ")");
    }
    return bind;
}

int run_cluster_role(const JobConfig& cfg, const ClusterRoleArgs& args, std::atomic<bool>& stop) {
    if (args.role == "scheduler") return run_scheduler(cfg, args, stop);
    if (args.role == "buffer") return run_buffer(cfg, args, stop);
    if (args.role == "trainer") return run_trainer(cfg, args, stop);
    if (args.role == "rollout") return run_rollout(cfg, args, stop);
    throw Error("role: unknown role '" + args.role + "' (scheduler, buffer, trainer, rollout)");
}

}  // namespace stride
