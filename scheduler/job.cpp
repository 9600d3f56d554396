#include "scheduler/job.h"

#include <omp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "buffer/buffer_server.h"
#include "common/base/error.h"
#include "common/base/parallel.h"
#include "common/base/placement.h"
#include "common/log.h"
#include "common/network_auth.h"
#include "common/progress_meter.h"
#include "common/role_placement.h"
#include "model/device_weight_slot.h"
#include "rollout/rollout_worker.h"
#include "scheduler/job_metrics.h"
#include "scheduler/process_roles.h"
#include "scheduler/roles.h"
#include "scheduler/rollout_summary.h"
#include "scheduler/run_lock.h"
#include "trainer/job_checkpoint.h"
#include "trainer/quarantine.h"
#include "trainer/trainer_role.h"

namespace stride {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// ---- launcher: threads ------------------------------------------------------------------------------

// The run's last lines on stdout: the busy share of wall time of each role, then where every prompt
// a rollout worker took ended up (rollout_line).
void print_time_split(double wall, double trainer_busy, const nlohmann::json& rollout, int workers) {
    std::printf(
        "time: %.1f s; busy share of wall time: trainer %.0f%%, rollout %.0f%% (mean of %d workers)\n", wall,
        100.0 * trainer_busy / wall,
        100.0 * rollout["rollout_busy_s"].get<double>() / std::max(1, workers) / wall, workers);
    std::printf("%s\n", rollout_line(rollout).c_str());
}

int run_threads(const JobContext& ctx, StartingPolicy policy, const std::atomic<bool>& stop) {
    const JobConfig& cfg = ctx.cfg;
    const JobEndpoints ep = thread_endpoints(cfg);
    BufferServer buffer(buffer_server_config(ctx, ep.buffer));
    {
        // The buffer's threads inherit the mask of the thread that starts them.
        const std::vector<int> everywhere = allowed_cpus();
        if (!role_cpus(cfg, "buffer", 0).empty())
            spdlog::info("placement {}", apply_role_placement(cfg, "buffer", 0));
        buffer.start();
        if (!role_cpus(cfg, "buffer", 0).empty()) pin_current_thread(everywhere);
    }
    // Trainer and rollout on the same GPU: new versions go from one's device weights to the others'
    // through a slot on that device (model/device_weight_slot.h), never through host memory.
    std::unique_ptr<DeviceWeightSlot> slot;
    if (trainer_device(cfg) != "cpu" && trainer_device(cfg) == rollout_device(cfg))
        slot = std::make_unique<DeviceWeightSlot>(backend_for_device(trainer_device(cfg)),
                                                  policy.model->data.size());
    TrainerRole trainer(ctx, std::move(*policy.model), policy.state, std::move(policy.adam),
                        buffer.endpoint(), ep.weights);
    trainer.set_device_weight_slot(slot.get());
    PromptDispatcher dispatcher(ctx, ep.scheduler, trainer.weights_endpoint(),
                                dispatcher_options(cfg, policy.state));
    trainer.connect_scheduler(dispatcher.endpoint());

    std::atomic<bool> roles_stop{false}, trainer_stop{false};
    std::atomic<int> failures{0};
    std::vector<std::unique_ptr<RolloutWorker>> workers;
    std::vector<std::thread> threads;
    for (int i = 0; i < cfg.rollout.workers; ++i) {
        workers.push_back(std::make_unique<RolloutWorker>(
            ctx, "rollout-" + std::to_string(i),
            RolloutEndpoints{dispatcher.endpoint(), buffer.endpoint(), trainer.weights_endpoint()}));
        workers.back()->set_device_weight_slot(slot.get());
        threads.emplace_back([&, i] {
            try {
                spdlog::info("placement {}", apply_role_placement(cfg, "rollout", i));
                workers[i]->run(roles_stop);
            } catch (const std::exception& e) {
                spdlog::error("rollout-{} failed: {}", i, e.what());
                ++failures;
            }
        });
    }
    // The trainer runs on this thread; SIGINT or a failed worker ends it cleanly (it checkpoints).
    std::thread watcher([&] {
        while (!roles_stop) {
            if (stop || failures > 0) trainer_stop = true;
            if (!trainer_stop && !buffer.failure().empty()) {  // a full or read-only disk under the buffer
                spdlog::error(
                    "buffer: storage failed, stopping the job (free the disk, then resume=auto): {}",
                    buffer.failure());
                ++failures;
                trainer_stop = true;
            }
            if (!trainer_stop && !dispatcher.failure().empty()) {  // the trainer's publisher went silent
                spdlog::error("stopping the job: {}", dispatcher.failure());
                ++failures;
                trainer_stop = true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
    const auto t0 = Clock::now();
    ProgressMeter progress("step", cfg.trainer.steps, trainer.state().step, t0);
    int rc = 0;
    try {
        spdlog::info("placement {}", apply_role_placement(cfg, "trainer", 0));
        trainer.run(trainer_stop, [&](const TrainerProgress& p) {
            show_status_line(progress.update(p.step, p.tokens, progress_fields(p)));
        });
        end_status_line();
    } catch (const std::exception& e) {
        end_status_line();
        spdlog::error("trainer failed: {}", e.what());
        rc = 1;
    }
    roles_stop = true;
    watcher.join();
    for (auto& t : threads) t.join();
    buffer.stop();

    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    std::vector<nlohmann::json> worker_stats;
    for (auto& w : workers) worker_stats.push_back(rollout_stats_json(w->stats()));
    const nlohmann::json rollout = rollout_totals(worker_stats);
    print_time_split(wall, trainer.busy_seconds(), rollout, cfg.rollout.workers);
    // The same numbers for scripts (bench/e2e/bench_async.cpp), in the run directory.
    nlohmann::json summary{{"launcher", "threads"},
                           {"wall_s", wall},
                           {"steps", trainer.state().step},
                           {"trainer_busy_s", trainer.busy_seconds()},
                           {"rollout_workers", cfg.rollout.workers},
                           // Reward statuses of the samples the trainer trained on.
                           {"reward_ok", trainer.reward_totals().ok},
                           {"reward_errors", trainer.reward_totals().error},
                           {"reward_timeouts", trainer.reward_totals().timeout},
                           {"reward_unparseable", trainer.reward_totals().unparseable},
                           // Groups the trainer kept aside, over the whole run (<run>/quarantine).
                           {"groups_quarantined", count_quarantined(cfg.run_path())}};
    summary.update(rollout);
    std::ofstream(cfg.run_path() + "/run_summary.json") << summary.dump() << "\n";
    if (failures > 0) rc = 1;
    return rc;
}

// ---- launcher: processes ------------------------------------------------------------------------------

int run_processes(const JobContext& ctx, const StartingPolicy& policy, const std::atomic<bool>& stop) {
    const JobConfig& cfg = ctx.cfg;
    const JobEndpoints ep = process_endpoints(cfg);
    // Children read the resolved config the parent wrote; the trainer starts from the checkpoint or
    // the SFT model the parent left in the run directory.
    fs::remove_all(rollout_stats_dir(cfg.run_path()));  // an earlier run's workers' counters
    PromptDispatcher dispatcher(ctx, ep.scheduler, ep.local().weights, dispatcher_options(cfg, policy.state));
    ProcessRoles roles(cfg, cfg.run_path() + "/config.yaml", dispatcher, stop);
    const auto t0 = Clock::now();
    roles.start_all();
    const int trainer_status = roles.run_until_trainer_ends();
    roles.stop_all();
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();

    // run_summary.json, from what the launcher knows: the roles and how they ended, the steps of
    // metrics.jsonl and of the last checkpoint, the trainer's step times, the prompts handed out, and
    // the counters each rollout worker wrote when it ended (rollout_summary.h; a worker that died
    // wrote none: rollout_workers_reported says how many did).
    nlohmann::json role_list = nlohmann::json::array();
    for (const RoleProcess& rp : roles.roles()) {
        const int st = rp.status;
        nlohmann::json r{
            {"role", rp.role}, {"worker", rp.worker}, {"pid", rp.last_pid}, {"restarts", rp.restarts}};
        if (st >= 0 && WIFEXITED(st)) r["exit_code"] = WEXITSTATUS(st);
        if (st >= 0 && WIFSIGNALED(st)) r["signal"] = WTERMSIG(st);
        r["exited_early"] = rp.ended_for_good && rp.role != "trainer";
        role_list.push_back(r);
    }
    int64_t last_step = policy.state.step, steps_done = 0;
    double trainer_busy = 0;
    {
        std::ifstream in(metrics_jsonl_path(cfg));
        std::string line;
        while (std::getline(in, line)) {
            auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
            if (!j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) continue;
            const int64_t step = j["step"].get<int64_t>();
            if (step <= policy.state.step || !j.contains("time/step_s")) continue;  // an earlier run's
            last_step = std::max(last_step, step);
            ++steps_done;
            if (j["time/step_s"].is_number()) trainer_busy += j["time/step_s"].get<double>();
        }
    }
    nlohmann::json checkpoint_step = nullptr;
    try {
        if (auto dir = latest_job_checkpoint(cfg.run_path())) checkpoint_step = read_job_state(*dir).step;
    } catch (const std::exception& e) {
        spdlog::warn("run_summary.json: no checkpoint step: {}", e.what());
    }
    const std::vector<nlohmann::json> worker_stats = read_rollout_stats(cfg.run_path());
    const nlohmann::json rollout = rollout_totals(worker_stats);
    print_time_split(wall, trainer_busy, rollout,
                     static_cast<int>(worker_stats.size()));  // those that reported
    nlohmann::json summary{{"launcher", "processes"},
                           {"wall_s", wall},
                           {"trainer_busy_s", trainer_busy},
                           {"rollout_workers", cfg.rollout.workers},
                           {"rollout_workers_reported", worker_stats.size()},
                           {"steps", last_step},
                           {"steps_this_run", steps_done},
                           {"checkpoint_step", checkpoint_step},
                           {"prompts_dispatched", dispatcher.dispatched() - policy.state.resume_prompt()},
                           {"groups_quarantined", count_quarantined(cfg.run_path())},
                           {"prompts_redispatched", dispatcher.redispatched()},
                           {"restarts",
                            {{"buffer", roles.restarts_of("buffer")},
                             {"trainer", roles.restarts_of("trainer")},
                             {"rollout", roles.restarts_of("rollout")}}},
                           {"roles", role_list}};
    summary.update(rollout);
    std::ofstream(cfg.run_path() + "/run_summary.json") << summary.dump() << "\n";
    if (!WIFEXITED(trainer_status) || !dispatcher.failure().empty()) return 1;
    return WEXITSTATUS(trainer_status);
}

// "eval accuracy: 0.504 (step 1) -> 0.690 (step 100), +0.186": the run's result in one line.
void print_eval_summary(const std::string& jsonl) {
    std::ifstream in(jsonl);
    std::string line;
    double first = -1, last = -1;
    long first_step = 0, last_step = 0;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!j.is_object() || !j.contains("eval/accuracy")) continue;
        if (first < 0) first = j["eval/accuracy"].get<double>(), first_step = j.value("step", 0L);
        last = j["eval/accuracy"].get<double>(), last_step = j.value("step", 0L);
    }
    if (first >= 0)
        std::printf("eval accuracy: %.3f (step %ld) -> %.3f (step %ld), %+.3f\n", first, first_step, last,
                    last_step, last - first);
}

// The complete checkpoints (step_N with a job_state.json) of an earlier run in `run`.
std::vector<std::string> earlier_checkpoints(const std::string& run) {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(run + "/checkpoints", ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("step_", 0) == 0 && fs::exists(e.path() / "job_state.json")) found.push_back(name);
    }
    std::sort(found.begin(), found.end());
    return found;
}

}  // namespace

int run_job(const JobConfig& cfg, const std::atomic<bool>& stop) {
    const std::string run = cfg.run_path();
    // The NCCL weight group forms at the registry of roles started with --scheduler; these launchers
    // hand weights over in memory, through a memory file or over ZeroMQ.
    STRIDE_CHECK(cfg.weights.transport != "nccl",
                 "weights.transport: nccl is for roles started with --scheduler (`stride role NAME "
                 "--scheduler ...`, issue #17); launcher: " +
                     cfg.launcher + " moves weights over shm or zmq (auto picks them)");
    // A run is never lost silently: a fresh start where an earlier run of this name left checkpoints
    // needs overwrite=true (checked before anything is written to the run directory).
    if (cfg.resume == "off") {
        const std::vector<std::string> old = earlier_checkpoints(run);
        if (!old.empty() && !cfg.overwrite)
            throw Error(fmt::format(
                "{} holds the checkpoints of an earlier run named '{}' (latest {}); resume=auto continues "
                "it, overwrite=true starts over and removes its checkpoints, buffer and metrics.jsonl",
                run, cfg.name, old.back()));
        if (!old.empty())
            std::fprintf(
                stderr,
                "overwrite=true: removing the earlier run in %s (%zu checkpoints up to %s, its buffer "
                "and metrics.jsonl)\n",
                run.c_str(), old.size(), old.back().c_str());
    }
    create_run_dir(cfg);
    const RunLock lock(run);  // refuses while a process of an earlier run of this job still runs
    init_logging("scheduler", cfg.log.level, cfg.log.json, run + "/logs/scheduler.log");
    const auto metrics_server = start_job_metrics(cfg);  // /metrics when metrics.port > 0
    // A fresh CURVE key set for this start (unless network.keys_dir names one): the roles, here or in
    // child processes reading config.yaml, admit only each other (common/network_auth.h).
    JobConfig keyed = cfg;
    make_launcher_keys(keyed);
    {
        std::ofstream out(run + "/config.yaml");
        out << dump_job_config(keyed);
    }
    JobContext ctx = make_job_context(keyed);
    const ModelConfig mc = ctx.model_config();
    spdlog::info(
        "job '{}': {} train prompts, {} eval prompts, model {} ({} layers, hidden {}), launcher {}, run dir "
        "{}",
        cfg.name, ctx.train.size(), ctx.eval.size(), arch_name(mc.arch), mc.layers, mc.hidden, cfg.launcher,
        run);

    // The SFT warm start and evals run here, before any role: `threads` bounds them as it does the roles
    // (after the process-wide default, which the first engine would otherwise apply over it).
    init_threads();
    if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
    StartingPolicy policy = starting_policy(ctx, SftMode::run, stop);
    // A fresh run (resume: off, or nothing to resume) starts over in its directory: metrics.jsonl,
    // checkpoints and the buffer of an earlier run with the same name would otherwise be mixed into
    // this one (old samples deduplicated against new ones, an old checkpoint picked by a later resume).
    if (!policy.resumed) {
        fs::remove(metrics_jsonl_path(cfg));
        fs::remove(run + "/trained.jsonl");
        fs::remove(run + "/samples.jsonl");
        fs::remove(run + "/acked.log");
        fs::remove_all(run + "/quarantine");
        fs::remove_all(run + "/checkpoints");
        if (cfg.buffer.dir.empty()) fs::remove_all(run + "/buffer");
    }
    if (stop) return 130;
    if (policy.state.step >= cfg.trainer.steps) {
        spdlog::info("nothing to do: {} of {} steps already done", policy.state.step, cfg.trainer.steps);
        return 0;
    }
    int rc = cfg.launcher == "processes" ? run_processes(ctx, policy, stop)
                                         : run_threads(ctx, std::move(policy), stop);
    print_eval_summary(metrics_jsonl_path(cfg));
    std::printf("metrics: %s\n", metrics_jsonl_path(cfg).c_str());
    if (stop && rc == 0) rc = 130;
    return rc;
}

}  // namespace stride
