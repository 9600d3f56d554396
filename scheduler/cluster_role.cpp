// scheduler/cluster_role.cpp: see cluster_role.h.
#include "scheduler/cluster_role.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "buffer/buffer_server.h"
#include "common/base/error.h"
#include "common/bind_endpoint.h"
#include "common/listen_policy.h"
#include "common/log.h"
#include "common/network_auth.h"
#include "common/progress_meter.h"
#include "common/weight_transport.h"
#include "job/weight_group_nccl.h"
#include "rollout/rollout_worker.h"
#include "scheduler/config_hash.h"
#include "scheduler/job_config.h"
#include "scheduler/registry.h"
#include "scheduler/roles.h"
#include "scheduler/scheduler_link.h"
#include "trainer/quarantine.h"
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
    o.curve = job_curve_keys(cfg);
    return o;
}

// weights.transport for roles started with --scheduler: separate processes, perhaps on several hosts.
bool weights_over_nccl(const JobConfig& cfg) {
    const WeightTransportFacts facts{
        .nccl_built = nccl_built_in(), .separate_processes = true, .one_host = false};
    return resolve_weight_transport(cfg, facts) == WeightTransport::nccl;
}

// This process's member of the NCCL weight group, which forms at the scheduler's registry. The CUDA
// device is the first visible one (CUDA_VISIBLE_DEVICES picks it).
WeightGroupOptions weight_group_options(const JobConfig& cfg, const ClusterRoleArgs& a,
                                        const std::string& member, const std::atomic<bool>* stop) {
    WeightGroupOptions o;
    o.job_id = cfg.name;
    o.member = member;
    o.instance = fmt::format("{}:{}:{}", advertise_host(a.advertise), getpid(), std::random_device{}());
    o.rendezvous = a.scheduler;
    o.curve = job_curve_keys(cfg);
    o.timeout_s = cfg.weights.timeout_s;
    o.bucket_elems = std::max<size_t>(1, weight_bucket_bytes(cfg.weights) / 2);  // bf16 on the wire
    o.stop = stop;
    return o;
}

// {"metrics/<id>": "http://HOST:PORT/metrics"} when this process serves /metrics, else nothing.
EndpointMap metrics_offer(const JobConfig& cfg, const ClusterRoleArgs& a, const std::string& id) {
    if (a.metrics_port <= 0) return {};
    const std::string bound = "tcp://" + cfg.metrics.bind + ":" + std::to_string(a.metrics_port);
    const std::string at = advertised_endpoint(bound, advertise_host(a.advertise)).substr(6);  // HOST:PORT
    return {{"metrics/" + id, "http://" + at + "/metrics"}};
}

// A restarted role binds the port its predecessor announced as `name` (when `bind` leaves the port to
// the system): the others keep their endpoint and their sockets reconnect to it.
std::string bind_as_before(const std::string& bind, const EndpointMap& announced, const std::string& name) {
    auto it = announced.find(name);
    if (bind.size() < 2 || bind.substr(bind.size() - 2) != ":*" || it == announced.end()) return bind;
    const std::string port = it->second.substr(it->second.rfind(':') + 1);
    spdlog::info("restarted: {} binds port {} again", name, port);
    return bind.substr(0, bind.size() - 1) + port;
}

EndpointMap with(EndpointMap a, const EndpointMap& b) {
    a.insert(b.begin(), b.end());
    return a;
}

// Adds `part`'s keys to <run>/run_summary.json (the scheduler and the trainer each know their half;
// on one machine they share the file, on several each machine's run_dir has its half).
void merge_run_summary(const JobConfig& cfg, const nlohmann::json& part) {
    const std::string path = cfg.run_path() + "/run_summary.json";
    nlohmann::json all;
    {
        std::ifstream in(path);
        if (in) all = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    }
    if (!all.is_object()) all = nlohmann::json::object();
    all.update(part);
    std::ofstream(path + ".tmp") << all.dump() << "\n";
    std::error_code ec;
    fs::rename(path + ".tmp", path, ec);
    if (ec) spdlog::warn("cannot write {}: {}", path, ec.message());
}

// ---- scheduler --------------------------------------------------------------------------------------

// <run>/scrape_targets.json: the /metrics of every role registered so far, in Prometheus's file_sd
// format (file_sd_configs), rewritten (atomically) when the list changes. Returns the list written.
std::string write_scrape_targets(const JobConfig& cfg, const Registry& reg, const std::string& last) {
    nlohmann::json targets = nlohmann::json::array();
    for (const auto& [name, url] : reg.endpoints()) {
        if (name.rfind("metrics/", 0) != 0 || url.rfind("http://", 0) != 0) continue;
        const std::string hostport = url.substr(7, url.find('/', 7) - 7);
        targets.push_back({{"targets", {hostport}},
                           {"labels", {{"stride_job", cfg.name}, {"stride_role", name.substr(8)}}}});
    }
    const std::string text = targets.dump(2);
    if (text == last) return last;
    const std::string path = cfg.run_path() + "/scrape_targets.json";
    std::ofstream(path + ".tmp") << text << "\n";
    std::error_code ec;
    fs::rename(path + ".tmp", path, ec);
    if (ec) spdlog::warn("scheduler: cannot write {}: {}", path, ec.message());
    return text;
}

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
    check_bind_key(key, bind, exposure_allowed(cfg.network), "");
    const std::string hash = job_config_hash(cfg);
    Registry reg({cfg.name, hash, bind, cfg.network.lost_after_s, job_curve_keys(cfg)});
    for (const auto& [name, url] : metrics_offer(cfg, a, "scheduler")) reg.offer(name, url);
    std::string targets = write_scrape_targets(cfg, reg, "");
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
    check_bind_key("network.prompts_bind", prompts_bind, exposure_allowed(cfg.network), "");
    PromptDispatcher d(ctx, prompts_bind, trainer->weights, dispatcher_options(cfg, start));
    // A rollout worker lost to a crash or a partition: its prompts go to the others.
    reg.on_lost([&d](const std::string& id) { d.release_worker(id); });
    // A restarted trainer's pause of the rollout workers ends when it has resumed.
    reg.set_resume_counter([&d] { return d.trainer_resumes(); });
    reg.offer("prompts", advertised_endpoint(d.endpoint(), advertise_host(a.advertise)));
    while (!stop && !reg.job_done()) {
        targets = write_scrape_targets(cfg, reg, targets);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    reg.on_lost({});  // d goes before reg
    reg.set_resume_counter({});
    if (!reg.job_done()) return 130;
    wait_roles_told(reg, cfg, stop);
    merge_run_summary(cfg, {{"launcher", "cluster"},
                            {"prompts_dispatched", d.dispatched() - trainer->start_prompt},
                            {"prompts_redispatched", d.redispatched()},
                            {"restarts",
                             {{"buffer", reg.restarts_of("buffer")},
                              {"trainer", reg.restarts_of("trainer")},
                              {"rollout", reg.restarts_of("rollout")}}}});
    std::printf("scheduler: job done, %lld prompts dispatched from %lld, %lld handed out again\n",
                (long long)d.dispatched(), (long long)trainer->start_prompt, (long long)d.redispatched());
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
    SchedulerLink link(link_options(cfg, a));
    std::string bind = cluster_bind("buffer.endpoint", cfg.buffer.endpoint, cfg, a.scheduler);
    if (a.restarted) bind = bind_as_before(bind, link.join({}, {}, stop), "buffer");
    if (stop) return 130;
    BufferServerConfig bc = buffer_server_config(ctx, bind);
    if (a.restarted)
        bc.resume_step = -1;  // the trainer lives on: nothing is rolled back to its checkpoint
    else
        prepare_buffer_dir(cfg, bc.dir);
    BufferServer server(bc);
    server.start();
    link.join(with({{"buffer", advertised_endpoint(server.endpoint(), advertise_host(a.advertise))}},
                   metrics_offer(cfg, a, "buffer")),
              {}, stop);
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

// A trainer restarted inside the job resumes from its last checkpoint (resume=auto; the config hash,
// taken from the job's config, stays the same).
JobConfig trainer_config(const JobConfig& cfg, bool restarted) {
    JobConfig c = cfg;
    if (restarted) c.resume = "auto";
    return c;
}

// How long a restarted trainer waits for the rollout workers to pause: each finishes its rewards out
// and saves its in-flight groups; a silent one counts as paused once the registry lost it.
double pause_deadline_s(const JobConfig& cfg) {
    return cfg.network.lost_after_s + cfg.reward.timeout_s + 60.0;
}

int run_trainer(const JobConfig& job_cfg, const ClusterRoleArgs& a, std::atomic<bool>& stop) {
    const JobConfig cfg = trainer_config(job_cfg, a.restarted);
    JobContext ctx = make_job_context(cfg);
    SchedulerLink link(link_options(job_cfg, a));
    EndpointMap ep = link.join(metrics_offer(cfg, a, "trainer"), {"buffer"}, stop);
    if (stop) return 130;
    // No rollout worker may make a group with the dead trainer's weights once the buffer dropped them.
    if (a.restarted && !link.pause_rollouts(stop, pause_deadline_s(cfg))) return 130;
    StartingPolicy p = starting_policy(ctx, SftMode::run, stop);
    if (stop) return 130;
    prepare_trainer_dir(cfg, p);
    std::string weights_bind =
        cluster_bind("network.weights_bind", cfg.network.weights_bind, cfg, a.scheduler);
    if (a.restarted) weights_bind = bind_as_before(weights_bind, ep, "weights");
    TrainerRole trainer(ctx, std::move(*p.model), p.state, std::move(p.adam), ep.at("buffer"), weights_bind);
    if (a.restarted) trainer.restarted_in_job();
    if (weights_over_nccl(cfg))
        trainer.use_weight_group(std::make_unique<WeightGroupSender>(
            weight_group_options(cfg, a, "trainer", &stop), nccl_channel_factory(0, /*device_source=*/true),
            nccl_new_unique_id));
    v1::RoleHello start;
    start.set_has_start(true);
    start.set_start_prompt(p.state.resume_prompt());
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
    merge_run_summary(cfg, {{"launcher", "cluster"},
                            {"steps", trainer.state().step},
                            {"steps_this_run", trainer.state().step - p.state.step},
                            {"trainer_busy_s", trainer.busy_seconds()},
                            {"reward_ok", trainer.reward_totals().ok},
                            {"reward_errors", trainer.reward_totals().error},
                            {"reward_timeouts", trainer.reward_totals().timeout},
                            {"reward_unparseable", trainer.reward_totals().unparseable},
                            {"groups_quarantined", count_quarantined(cfg.run_path())}});
    if (finished) link.announce_finished();  // after the summary: the scheduler adds its half then
    std::printf("trainer: %s at step %lld of %d\n", finished ? "finished" : "stopped",
                (long long)trainer.state().step, cfg.trainer.steps);
    return finished ? 0 : (link.lost() ? 1 : 130);
}

// ---- rollout ----------------------------------------------------------------------------------------

// One generation of the worker, until the job is done, *stop, or a restarted trainer's pause: then it
// has saved its in-flight groups and is gone.
void run_rollout_once(const JobConfig& cfg, const JobContext& ctx, const ClusterRoleArgs& a, const EndpointMap& ep,
                      SchedulerLink& link, std::atomic<bool>& stop) {
    std::atomic<bool> end{false};
    std::jthread watch([&](std::stop_token st) {
        while (!st.stop_requested() && !stop && !link.pause_requested())
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        end = true;
    });
    RolloutWorker w(ctx, member_id("rollout", a.worker),
                    RolloutEndpoints{ep.at("prompts"), ep.at("buffer"), ep.at("weights")});
    if (weights_over_nccl(cfg))
        w.use_weight_group(weight_group_options(cfg, a, member_id("rollout", a.worker), &stop),
                           nccl_channel_factory(0, false));
    w.run(end);
    wait_until(end);  // done with the job's prompts: stay until the job is done (or a pause)
}

int run_rollout(const JobConfig& cfg, const ClusterRoleArgs& a, std::atomic<bool>& stop) {
    JobContext ctx = make_job_context(cfg);
    SchedulerLink link(link_options(cfg, a));
    for (bool first = true;; first = false) {
        // While a restarted trainer resumes, the registry withholds the weights and prompts here.
        const EndpointMap ep = link.join(metrics_offer(cfg, a, member_id("rollout", a.worker)),
                                         {"prompts", "buffer", "weights"}, stop);
        if (stop) break;
        if (first) link.start_heartbeat(&stop);
        run_rollout_once(cfg, ctx, a, ep, link, stop);
        if (stop) break;
        spdlog::info("rollout-{}: paused for the restarted trainer; registering again", a.worker);
    }
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
        check_bind_key(key, bind, exposure_allowed(cfg.network), "");
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
