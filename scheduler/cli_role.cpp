// `stride role ROLE --config FILE [--worker I] [--scheduler tcp://HOST:PORT] [key=value ...]`: one role
// of a job as its own process. Without --scheduler (what `launcher: processes` starts) the roles find
// each other through the endpoints the config names or the Unix sockets in <run>/sockets (see
// scheduler/roles.h); with it, through the scheduler's registry (scheduler/cluster_role.h), on any
// machine.
//   buffer     the experience buffer service
//   trainer    pulls batches, trains, publishes weights, evaluates, checkpoints
//   rollout    one rollout worker (--worker I names it rollout-I)
//   scheduler  the prompt dispatcher alone (runs until SIGTERM)
//   trainer-rank  a data-parallel trainer rank > 0 (trainer.ranks; started by the trainer, rank 0)
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/base/parallel.h"
#include "buffer/buffer_server.h"
#include "common/base/error.h"
#include "common/log.h"
#include "common/progress_meter.h"
#include "common/role_placement.h"
#include "model/cli/parser.h"
#include "rollout/rollout_worker.h"
#include "scheduler/cli_commands.h"
#include "scheduler/cluster_role.h"
#include "scheduler/job_config.h"
#include "scheduler/job_metrics.h"
#include "scheduler/rank_processes.h"
#include "scheduler/role_supervisor.h"
#include "scheduler/roles.h"
#include "scheduler/rollout_summary.h"
#include "trainer/trainer_role.h"

namespace stride::cli {

namespace {

std::atomic<bool> g_role_stop{false};
void on_role_signal(int) {
    g_role_stop = true;
}

void wait_for_stop() {
    while (!g_role_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

}  // namespace

int role(int argc, char** argv) {
    std::string name, config_path, scheduler, advertise;
    int worker = 0, rank = 0;
    std::string rank_group;
    bool restarted = false;
    std::vector<std::string> overrides;
    Parser p(
        "stride role buffer|trainer|rollout|scheduler --config FILE [--worker I] [--scheduler "
        "tcp://HOST:PORT] "
        "[key=value ...]",
        "One role of a job as its own process. Without --scheduler (what launcher: processes starts) the\n"
        "roles find each other through <run>/sockets or the config's endpoints; with it they register\n"
        "with the scheduler there and learn every endpoint from it (roles on several machines).");
    p.positional("ROLE", name, "buffer, trainer, rollout or scheduler")
        .flag("config", config_path, "job config (YAML)", true)
        .flag("worker", worker, "rollout worker index (names it rollout-I)")
        .flag("rank", rank, "trainer-rank: this process's rank (1 .. trainer.ranks-1)")
        .flag("group", rank_group, "trainer-rank: the token of rank 0's group (set by the trainer)")
        .flag("scheduler", scheduler,
              "the scheduler's registry: where the scheduler role listens, where the others register")
        .flag("advertise", advertise,
              "host the others reach this role at when it binds every interface (default: "
              "$STRIDE_ADVERTISE_HOST or the host name)")
        .toggle("restarted", restarted,
                "this role replaces one that died in the job (set by launcher: processes and by the "
                "supervisor of "
                "a role started with --scheduler; a trainer: from its last checkpoint, or from the start, "
                "dropping what the dead one's versions made; a buffer: without the resume's roll-back, the "
                "trainer lives on)")
        .positionals("OVERRIDES", overrides, "key=value ...");
    if (!p.parse(argc, argv)) return 0;
    if (name != "buffer" && name != "trainer" && name != "rollout" && name != "scheduler" &&
        name != "trainer-rank")
        throw UsageError("role: unknown role '" + name + "' (buffer, trainer, rollout, scheduler)");
    for (const std::string& a : overrides)
        if (a.find('=') == std::string::npos) throw UsageError("role: unexpected argument '" + a + "'");
    std::signal(SIGINT, on_role_signal);
    std::signal(SIGTERM, on_role_signal);
    const JobConfig cfg = load_job_config(config_path, overrides);
    if (cfg.blas_kernels == "portable") use_portable_blas_kernels();  // may re-execute
    // recovery.<role>_restarts with --scheduler: this process only supervises a child that runs the role.
    if (auto rc = supervise_role_if_configured(cfg, name, scheduler, argc, argv, g_role_stop)) return *rc;
    STRIDE_CHECK(
        name != "trainer" || scheduler.empty() || cfg.trainer.ranks == 1,
        "trainer.ranks: several trainer ranks run under launcher: processes only, not with --scheduler");
    const std::string role_name = name == "rollout"        ? "rollout-" + std::to_string(worker)
                                  : name == "trainer-rank" ? "trainer-rank-" + std::to_string(rank)
                                                           : name;
    // Before any thread starts, so that every thread of this process inherits the role's CPUs.
    const std::string placement = apply_role_placement(cfg, name, worker);
    create_run_dir(cfg);
    init_logging(role_name, cfg.log.level, cfg.log.json, cfg.run_path() + "/logs/" + role_name + ".log");
    spdlog::info("placement {}", placement);
    // /metrics when metrics.port > 0 (a trainer rank > 0 has none: rank 0 reports the training)
    const auto metrics_server = name == "trainer-rank" ? nullptr : start_role_metrics(cfg, name, worker);
    if (!scheduler.empty() || (name == "scheduler" && !cfg.network.scheduler_bind.empty()))
        return run_cluster_role(cfg,
                                ClusterRoleArgs{name, worker, scheduler, advertise,
                                                metrics_server ? metrics_server->port() : 0, restarted},
                                g_role_stop);
    const JobEndpoints binds = process_endpoints(cfg);
    const JobEndpoints ep = binds.local();  // what this role connects to
    JobContext ctx = make_job_context(cfg);

    if (name == "buffer") {
        BufferServerConfig bc = buffer_server_config(ctx, binds.buffer);
        // Restarted inside the job: the trainer lives on, so nothing is rolled back to its checkpoint.
        if (restarted) bc.resume_step = -1;
        BufferServer server(bc);
        server.start();
        while (!g_role_stop && server.failure().empty())
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        server.stop();
        // A storage failure ends the role, and with it the job (the launcher stops the others).
        if (!server.failure().empty())
            throw Error("buffer: storage failed, stopping the job (free the disk, then resume=auto): " +
                        server.failure());
        return 0;
    }
    if (name == "trainer-rank") {
        STRIDE_CHECK(rank >= 1 && rank < cfg.trainer.ranks,
                     fmt::format("role trainer-rank: --rank {} is not in 1 .. trainer.ranks-1 = {}", rank,
                                 cfg.trainer.ranks - 1));
        return run_rank_process(ctx, rank, rank_group, g_role_stop);
    }
    if (name == "trainer") {
        StartingPolicy p = starting_policy(ctx, SftMode::load, g_role_stop);
        TrainerRole trainer(ctx, std::move(*p.model), p.state, std::move(p.adam), ep.buffer, binds.weights);
        trainer.connect_scheduler(ep.scheduler);
        if (restarted) trainer.restarted_in_job();
        // trainer.ranks > 1: ranks 1.. are this process's children (scheduler/rank_processes.h).
        std::unique_ptr<RankProcesses> ranks;
        if (cfg.trainer.ranks > 1) {
            ranks = std::make_unique<RankProcesses>(ctx, config_path, overrides, g_role_stop);
            trainer.set_ranks(&ranks->ranks());
        }
        // One line per step: the other roles' processes write to the same terminal, so the line is
        // never redrawn in place.
        ProgressMeter progress("step", cfg.trainer.steps, p.state.step);
        try {
            trainer.run(g_role_stop, [&](const TrainerProgress& pr) {
                std::fprintf(stderr, "%s\n",
                             progress.update(pr.step, pr.tokens, progress_fields(pr)).c_str());
            });
        } catch (const CollectiveError& e) {  // in the role's log too: the launcher restarts the group
            spdlog::error("trainer: {}; the trainer ranks stop", e.what());
            throw;
        }
        return g_role_stop ? 130 : 0;
    }
    if (name == "rollout") {
        RolloutWorker w(ctx, role_name, RolloutEndpoints{ep.scheduler, ep.buffer, ep.weights});
        w.run(g_role_stop);
        // Done with the job's prompts: stay until told to stop, so the launcher sees no early exit.
        wait_for_stop();
        // For the launcher's run_summary.json: this process's counters die with it.
        write_rollout_stats(cfg.run_path(), role_name, w.stats());
        return 0;
    }
    if (name == "scheduler") {
        PromptDispatcher d(ctx, binds.scheduler, ep.weights, dispatcher_options(cfg, resume_state(cfg)));
        wait_for_stop();
        return 0;
    }
    throw Error("role: unknown role '" + name + "'");  // checked above: not reached
}

}  // namespace stride::cli
