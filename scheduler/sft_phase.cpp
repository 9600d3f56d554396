#include "scheduler/sft_phase.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "common/log.h"
#include "common/progress_meter.h"
#include "job/evaluate.h"
#include "model/backend.h"
#include "trainer/sft.h"
#include "trainer/trainer_role.h"

namespace stride {
namespace {

// Accuracy of one sample per eval prompt at rollout.temperature (top-p / top-k not applied).
double sampled_eval_accuracy(const JobContext& ctx, const Model& model, uint64_t seed) {
    EvalOptions eo;
    eo.temperature = static_cast<float>(ctx.cfg.rollout.temperature);
    eo.max_tokens = ctx.cfg.rollout.max_tokens;
    eo.stop_tokens = ctx.stop_tokens;
    eo.seed = seed;
    return evaluate(model, ctx.tokenizer, *ctx.reward, ctx.eval, eo).accuracy;
}

}  // namespace

int64_t run_sft_phase(const JobContext& ctx, Model& model, const std::atomic<bool>& stop) {
    const SftConfig& sc = ctx.cfg.sft;
    // Targets: the answer followed by the first stop token, so the model learns to end its answer.
    std::vector<SftExample> data;
    data.reserve(ctx.train.size());
    for (const TokenizedPrompt& p : ctx.train) {
        SftExample ex{p.ids, ctx.tokenizer.encode(p.answer, /*allow_special=*/false)};
        ex.target.push_back(ctx.stop_tokens.front());
        data.push_back(std::move(ex));
    }
    AdamWConfig ac;
    ac.lr = static_cast<float>(sc.lr);
    ac.weight_decay = 0.0f;
    LrSchedule sched;
    sched.type = LrScheduleType::linear_warmup;
    sched.base_lr = ac.lr;
    sched.warmup_steps = sc.warmup;
    SftTrainer trainer(model, ac, sched, 1.0f,
                       backend_for_device(trainer_device(ctx.cfg)));  // checked at load

    std::ofstream log(ctx.run_path() + "/sft_metrics.jsonl", std::ios::app);
    std::mt19937_64 rng(static_cast<uint64_t>(ctx.cfg.seed) * 7919u + 17u);
    std::uniform_int_distribution<size_t> pick(0, data.size() - 1);
    const auto t0 = std::chrono::steady_clock::now();
    ProgressMeter progress("sft", sc.steps, 0, t0);
    int64_t step = 0;
    for (; step < sc.steps && !stop; ++step) {
        std::vector<SftExample> batch;
        int64_t tokens = 0;
        for (int i = 0; i < sc.batch; ++i) {
            batch.push_back(data[pick(rng)]);
            tokens += static_cast<int64_t>(batch.back().prompt.size() + batch.back().target.size());
        }
        const double loss = trainer.step(batch);
        show_status_line(progress.update(step + 1, tokens, fmt::format("loss {:.4f}", loss)));
        nlohmann::json line = {{"sft_step", step + 1}, {"loss", loss}};
        bool done = false;
        if (sc.eval_every > 0 && (step + 1) % sc.eval_every == 0 && !ctx.eval.empty()) {
            const double acc = eval_accuracy(ctx, model);
            line["eval/accuracy"] = acc;
            std::string sampled_note;
            double sampled = -1;
            if (sc.stop_at_sampled_accuracy > 0) {
                // What GRPO will see: one sample per eval prompt at the rollout temperature. Greedy
                // accuracy alone can be high while each digit is still unsure, so that at temperature 1
                // almost every group of rollout.n samples is all wrong and carries no advantage.
                sampled =
                    sampled_eval_accuracy(ctx, model, static_cast<uint64_t>(ctx.cfg.seed) * 1000003u + step);
                line["eval/sampled_accuracy"] = sampled;
                sampled_note =
                    fmt::format(", sampled {:.3f} at temperature {:g}", sampled, ctx.cfg.rollout.temperature);
            }
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            spdlog::info("sft step {}: loss {:.4f}, eval accuracy {:.3f}{} ({:.0f} s)", step + 1, loss, acc,
                         sampled_note, secs);
            done = sc.stop_at_accuracy > 0 && acc >= sc.stop_at_accuracy &&
                   (sc.stop_at_sampled_accuracy <= 0 || sampled >= sc.stop_at_sampled_accuracy);
        }
        log << line.dump() << "\n";
        if (done) {
            ++step;
            break;
        }
    }
    end_status_line();
    return step;
}

}  // namespace stride
