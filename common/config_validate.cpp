// validate_job_config: ranges of each key (from the schema) and the rules that tie keys together.
// Every message starts with the dotted key to change.
#include <fmt/format.h>

#include <set>

#include "common/base/error.h"
#include "common/config.h"
#include "common/config_schema.h"
#include "common/dataset.h"

namespace stride {

namespace {

// Algorithms whose advantage compares the samples of one prompt: a group of one has nothing to compare.
bool uses_groups(const std::string& algorithm) {
    static const std::set<std::string> grouped = {"grpo", "dr_grpo", "dapo", "gspo", "rloo"};
    return grouped.count(algorithm) > 0;
}

void check_dataset_spec(const std::string& key, const std::string& value) {
    if (!is_gen_spec(value)) return;  // files are checked when read, with file and line
    try {
        parse_gen_spec(value);
    } catch (const Error& e) {
        throw Error(key + ": " + e.what());
    }
}

void check_model(const JobConfig& c) {
    if (!c.model.path.empty()) return;
    const ModelInitConfig& m = c.model.init;
    STRIDE_CHECK(!c.tokenizer.empty(),
                 "tokenizer: required when the model is built from model.init (model.path is empty)");
    STRIDE_CHECK(
        m.hidden % m.heads == 0,
        fmt::format("model.init.heads: {} does not divide model.init.hidden = {}", m.heads, m.hidden));
    STRIDE_CHECK((m.hidden / m.heads) % 2 == 0,
                 fmt::format("model.init.heads: head size hidden/heads = {} must be even for RoPE",
                             m.hidden / m.heads));
    STRIDE_CHECK(
        m.heads % m.kv_heads == 0,
        fmt::format("model.init.kv_heads: {} does not divide model.init.heads = {}", m.kv_heads, m.heads));
}

void check_rollout(const JobConfig& c) {
    const RolloutConfig& r = c.rollout;
    STRIDE_CHECK(r.top_k != 0, "rollout.top_k: 0 is not a valid k; use -1 to turn top-k off");
    STRIDE_CHECK(r.segment_tokens <= r.max_tokens,
                 fmt::format("rollout.segment_tokens: {} is larger than rollout.max_tokens = {}",
                             r.segment_tokens, r.max_tokens));
    // Accepted by the schema so that configs can be written for it, refused until it runs: a key that
    // is silently ignored would make a user believe responses are segmented.
    STRIDE_CHECK(r.segment_tokens == 0,
                 "rollout.segment_tokens: segment rollout is not available yet in this version; use 0");
    STRIDE_CHECK(
        r.n <= r.max_batch_seqs,
        fmt::format(
            "rollout.n: a group of {} samples must fit one worker batch (rollout.max_batch_seqs = {})", r.n,
            r.max_batch_seqs));
    if (r.kv_blocks > 0)
        STRIDE_CHECK(static_cast<int64_t>(r.kv_blocks) * r.block_size >= r.max_tokens,
                     fmt::format("rollout.kv_blocks: {} blocks of {} tokens cannot hold one response of "
                                 "rollout.max_tokens = {}",
                                 r.kv_blocks, r.block_size, r.max_tokens));
    if (r.mode == "sync")
        STRIDE_CHECK(
            c.trainer.prompts_per_step >= r.workers,
            fmt::format("trainer.prompts_per_step: {} prompts leave some of rollout.workers = {} idle in "
                        "sync mode",
                        c.trainer.prompts_per_step, r.workers));
}

// Keys that contradict the chosen algorithm (../shared/spec/algorithms.md §2.3, §4.1, §1).
void check_algorithm_keys(const TrainerConfig& t) {
    STRIDE_CHECK(t.is_low <= t.is_cap,
                 fmt::format("trainer.is_low: {} is above trainer.is_cap = {}", t.is_low, t.is_cap));
    if (t.algorithm == "gspo") {
        // verl forces the sequence mean: GSPO's objective is a mean over sequences of a sequence ratio.
        STRIDE_CHECK(t.loss_agg == "seq_mean_token_mean",
                     "trainer.loss_agg: gspo averages its sequence-level ratio over sequences "
                     "(seq_mean_token_mean), got " +
                         t.loss_agg);
        STRIDE_CHECK(t.dual_clip == 0.0,
                     fmt::format("trainer.dual_clip: gspo has no dual clip (its ratio is a per-token "
                                 "geometric mean), set it to 0, got {}",
                                 t.dual_clip));
    }
    STRIDE_CHECK(t.algorithm != "dr_grpo" || !t.norm_adv_by_std,
                 "trainer.norm_adv_by_std: dr_grpo's advantage is not divided by the group std; set it to "
                 "false or use trainer.algorithm = grpo");
    STRIDE_CHECK(t.algorithm != "ppo",
                 "trainer.algorithm: ppo needs a learned critic (value head), which the engine does not "
                 "have yet; use grpo, dr_grpo, dapo, gspo, rloo or reinforce_pp");
}

void check_trainer(const JobConfig& c) {
    const TrainerConfig& t = c.trainer;
    if (uses_groups(t.algorithm))
        STRIDE_CHECK(c.rollout.n >= 2,
                     fmt::format("rollout.n: {} compares the samples of each prompt, so it needs at "
                                 "least 2, got {}",
                                 t.algorithm, c.rollout.n));
    STRIDE_CHECK(!t.dynamic_sampling || uses_groups(t.algorithm),
                 "trainer.dynamic_sampling: needs a group algorithm (grpo, dr_grpo, dapo, gspo, rloo), not " +
                     t.algorithm);
    STRIDE_CHECK(t.dual_clip == 0.0 || t.dual_clip > 1.0,
                 fmt::format("trainer.dual_clip: must be 0 (off) or > 1, got {}", t.dual_clip));
    check_algorithm_keys(t);
    STRIDE_CHECK(
        t.warmup_steps <= t.steps,
        fmt::format("trainer.warmup_steps: {} is more than trainer.steps = {}", t.warmup_steps, t.steps));
    STRIDE_CHECK(
        t.prompts_per_step % t.mini_batches == 0,
        fmt::format("trainer.mini_batches: {} does not divide trainer.prompts_per_step = {} (each optimiser "
                    "step takes whole prompt groups)",
                    t.mini_batches, t.prompts_per_step));
    STRIDE_CHECK(
        t.micro_batch_tokens == 0 || t.micro_batch_tokens >= c.rollout.max_tokens,
        fmt::format("trainer.micro_batch_tokens: {} cannot hold one response of rollout.max_tokens = {}",
                    t.micro_batch_tokens, c.rollout.max_tokens));
    // The ratio pi_theta / mu is only meaningful if both sides divide the logits by the same temperature.
    STRIDE_CHECK(
        t.temperature == 0.0 || t.temperature == c.rollout.temperature,
        fmt::format("trainer.temperature: {} differs from rollout.temperature = {}; log-prob ratios would "
                    "compare different distributions",
                    t.temperature, c.rollout.temperature));
    STRIDE_CHECK(c.reward.overlong_buffer < c.rollout.max_tokens,
                 fmt::format("reward.overlong_buffer: {} must be smaller than rollout.max_tokens = {}",
                             c.reward.overlong_buffer, c.rollout.max_tokens));
}

void check_data(const JobConfig& c) {
    STRIDE_CHECK(!c.data.train.empty(), "data.train: required (a JSONL file or gen:TASK?n=N&seed=S)");
    check_dataset_spec("data.train", c.data.train);
    check_dataset_spec("data.eval", c.data.eval);
    bool has_eval = !c.data.eval.empty() || c.data.eval_size > 0;
    STRIDE_CHECK(
        has_eval || c.trainer.eval_every == 0,
        "trainer.eval_every: evals need an eval set (set data.eval or data.eval_size > 0), or set it to 0");
    if (c.sft.enabled) {
        STRIDE_CHECK(
            has_eval || c.sft.eval_every == 0,
            "sft.eval_every: evals need an eval set (set data.eval or data.eval_size > 0), or set it to 0");
        STRIDE_CHECK(c.sft.stop_at_accuracy == 0.0 || c.sft.eval_every > 0,
                     "sft.stop_at_accuracy: needs sft.eval_every > 0 to measure accuracy");
        STRIDE_CHECK(c.sft.warmup <= c.sft.steps,
                     fmt::format("sft.warmup: {} is more than sft.steps = {}", c.sft.warmup, c.sft.steps));
    }
    if (c.launcher == "processes")
        STRIDE_CHECK(c.buffer.endpoint.rfind("inproc://", 0) != 0,
                     "buffer.endpoint: inproc:// endpoints cannot cross processes (launcher = processes)");
}

}  // namespace

void validate_job_config(const JobConfig& cfg) {
    for (const auto& k : config_schema()) check_config_value(k, cfg);
    check_model(cfg);
    check_data(cfg);
    check_rollout(cfg);
    check_trainer(cfg);
}

}  // namespace stride
