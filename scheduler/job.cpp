#include "scheduler/job.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "buffer/buffer_server.h"
#include "common/base/error.h"
#include "common/base/parallel.h"
#include "common/log.h"
#include "model/checkpoint.h"
#include "rollout/rollout_worker.h"
#include "scheduler/job_context.h"
#include "scheduler/prompt_dispatcher.h"
#include "scheduler/sft_phase.h"
#include "trainer/trainer_role.h"

namespace stride {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

// One line per step; rewritten in place on a terminal, appended otherwise.
class Progress {
public:
    explicit Progress(int total) : total_(total), tty_(isatty(STDERR_FILENO)), t0_(Clock::now()) {}
    void update(const TrainerProgress& p) {
        const double secs = std::chrono::duration<double>(Clock::now() - t0_).count();
        const double eta = p.step > 0 ? secs / p.step * (total_ - p.step) : 0;
        char eval[32] = "";
        if (p.eval_accuracy >= 0) std::snprintf(eval, sizeof(eval), " eval %.3f", p.eval_accuracy);
        std::fprintf(stderr, "%s[step %lld/%d] reward %.3f%s tokens/s %.0f step %.2fs ETA %.0fs%s",
                     tty_ ? "\r\033[K" : "", static_cast<long long>(p.step), total_, p.reward_mean, eval,
                     p.tokens_per_s, p.step_s, eta, tty_ ? "" : "\n");
        if (tty_ && p.step == total_) std::fprintf(stderr, "\n");
        std::fflush(stderr);
    }

private:
    int total_;
    bool tty_;
    Clock::time_point t0_;
};

}  // namespace

int run_job(const JobConfig& cfg, const std::atomic<bool>& stop) {
    const std::string run = cfg.run_path();
    fs::create_directories(run);
    init_logging("scheduler", cfg.log.level, cfg.log.json);
    {
        std::ofstream out(run + "/config.yaml");
        out << dump_job_config(cfg);
    }
    JobContext ctx = make_job_context(cfg);
    const ModelConfig mc = ctx.model_config();
    spdlog::info("job '{}': {} train prompts, {} eval prompts, model {} ({} layers, hidden {}), run dir {}", cfg.name,
                 ctx.train.size(), ctx.eval.size(), arch_name(mc.arch), mc.layers, mc.hidden, run);

    // ---- the starting policy: a checkpoint of this run, or a fresh (warm-started) model ----------
    Model model(mc);
    JobState state;
    AdamWConfig ac;
    ac.lr = static_cast<float>(cfg.trainer.lr);
    ac.beta1 = static_cast<float>(cfg.trainer.betas.at(0));
    ac.beta2 = static_cast<float>(cfg.trainer.betas.at(1));
    ac.eps = static_cast<float>(cfg.trainer.eps);
    ac.weight_decay = static_cast<float>(cfg.trainer.weight_decay);
    auto adam = std::make_unique<AdamW>(model.data.size(), ac);
    std::optional<std::string> ckpt;
    if (cfg.resume != "off") ckpt = latest_job_checkpoint(run);
    if (cfg.resume == "require" && !ckpt) throw Error("resume: require, but " + run + "/checkpoints holds no checkpoint");
    if (ckpt) {
        state = load_job_checkpoint(*ckpt, model, *adam);
        spdlog::info("resumed from {} at step {} (policy version {})", *ckpt, state.step, state.policy_version);
    } else {
        if (!cfg.model.path.empty()) checkpoint_load_weights(model, cfg.model.path);
        else model_init_random(model, static_cast<uint64_t>(cfg.model.init.seed));
        if (cfg.sft.enabled) {
            state.sft_steps = run_sft_phase(ctx, model, stop);
            checkpoint_save(model, run + "/sft_model", DiskDtype::f32);
        }
        // A fresh run appends to nothing: metrics.jsonl describes this run only.
        fs::remove(cfg.metrics.jsonl.empty() ? run + "/metrics.jsonl" : cfg.metrics.jsonl);
    }
    if (stop) return 130;
    if (state.step >= cfg.trainer.steps) {
        spdlog::info("nothing to do: {} of {} steps already done", state.step, cfg.trainer.steps);
        return 0;
    }

    // ---- the roles ---------------------------------------------------------------------------------
    BufferServerConfig bc;
    bc.job_id = ctx.job_id;
    bc.endpoint = cfg.buffer.endpoint.empty() ? "tcp://127.0.0.1:*" : cfg.buffer.endpoint;
    bc.dir = cfg.buffer.dir.empty() ? run + "/buffer" : cfg.buffer.dir;
    bc.group_size = static_cast<uint32_t>(cfg.rollout.n);
    bc.capacity_samples = static_cast<uint64_t>(cfg.buffer.capacity);
    bc.sync_wal = cfg.buffer.sync_wal;
    bc.max_staleness = cfg.rollout.mode == "sync" ? -1 : cfg.buffer.max_staleness;
    BufferServer buffer(bc);
    buffer.start();

    TrainerRole trainer(ctx, std::move(model), state, std::move(adam), buffer.endpoint(), "tcp://127.0.0.1:*");
    DispatcherOptions dopt;
    dopt.prompts_per_step = cfg.trainer.prompts_per_step;
    dopt.total_steps = cfg.trainer.steps;
    dopt.max_lag = cfg.rollout.mode == "sync" ? 0 : cfg.buffer.max_staleness;
    dopt.seed = static_cast<uint64_t>(cfg.seed);
    dopt.start_prompt = state.prompts_dispatched;
    PromptDispatcher dispatcher(ctx, "tcp://127.0.0.1:*", trainer.weights_endpoint(), dopt);

    std::atomic<bool> roles_stop{false};
    std::vector<std::unique_ptr<RolloutWorker>> workers;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < cfg.rollout.workers; ++i) {
        workers.push_back(std::make_unique<RolloutWorker>(
            ctx, "rollout-" + std::to_string(i),
            RolloutEndpoints{dispatcher.endpoint(), buffer.endpoint(), trainer.weights_endpoint()}));
        threads.emplace_back([&, i] {
            try {
                workers[i]->run(roles_stop);
            } catch (const std::exception& e) {
                spdlog::error("rollout-{} failed: {}", i, e.what());
                ++failures;
            }
        });
    }

    // The trainer runs on this thread; any role stop (SIGINT, a failed worker) ends it cleanly.
    std::atomic<bool> trainer_stop{false};
    std::thread watcher([&] {
        while (!roles_stop) {
            if (stop || failures > 0) trainer_stop = true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
    Progress progress(cfg.trainer.steps);
    const auto t0 = Clock::now();
    int rc = 0;
    try {
        trainer.run(trainer_stop, [&](const TrainerProgress& p) { progress.update(p); });
    } catch (const std::exception& e) {
        spdlog::error("trainer failed: {}", e.what());
        rc = 1;
    }
    roles_stop = true;
    watcher.join();
    for (auto& t : threads) t.join();
    buffer.stop();

    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    double rollout_busy = 0;
    for (auto& w : workers) rollout_busy += w->stats().busy_s;
    std::printf("time: %.1f s; busy share of wall time: trainer %.0f%%, rollout %.0f%% (mean of %d workers)\n", wall,
                100.0 * trainer.busy_seconds() / wall, 100.0 * rollout_busy / std::max(1, cfg.rollout.workers) / wall,
                cfg.rollout.workers);
    std::printf("metrics: %s\n", (cfg.metrics.jsonl.empty() ? run + "/metrics.jsonl" : cfg.metrics.jsonl).c_str());
    if (failures > 0) rc = 1;
    if (stop && rc == 0) rc = 130;
    return rc;
}

}  // namespace stride
