// check_job_config: ranges of each key (from the schema) and the rules that tie keys together.
// Every message starts with the dotted key to change.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/base/error.h"
#include "common/base/placement.h"
#include "common/bind_endpoint.h"
#include "common/config.h"
#include "common/config_schema.h"
#include "common/gen_spec.h"
#include "common/listen_policy.h"
#include "common/network_auth.h"

namespace stride {

namespace {

void check_dataset_spec(const std::string& key, const std::string& value) {
    if (value.empty()) return;
    const std::vector<std::string> sources = dataset_sources(value);
    STRIDE_CHECK(!sources.empty(), key + ": an empty list of datasets");
    for (const std::string& s : sources) {
        if (!is_gen_spec(s)) continue;  // files are checked when read, with file and line
        try {
            parse_gen_spec(s);
        } catch (const Error& e) {
            throw Error(key + ": " + e.what());
        }
    }
}

void check_model(const JobConfig& c) {
    for (auto [key, value] :
         {std::pair{"rollout.device", &c.rollout.device}, std::pair{"trainer.device", &c.trainer.device}})
        STRIDE_CHECK(
            value->empty() || *value == "cpu" || *value == "cuda",
            fmt::format("{}: '{}' is not a device (cpu, cuda, or empty for model.device)", key, *value));
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
    // 128k new tokens: the longest responses the engine is sized and tested for (UloRL's setting).
    STRIDE_CHECK(r.max_tokens <= 131072,
                 fmt::format("rollout.max_tokens: {} is above the supported 131072 tokens; use segment "
                             "rollout (rollout.segment_tokens) for long responses up to that",
                             r.max_tokens));
    STRIDE_CHECK(
        r.n <= r.max_batch_seqs,
        fmt::format(
            "rollout.n: a group of {} samples must fit one worker batch (rollout.max_batch_seqs = {})", r.n,
            r.max_batch_seqs));
    STRIDE_CHECK(!(r.dtype == "bf16" && rollout_device(c) == "cpu"),
                 "rollout.dtype: bf16 weights need rollout.device: cuda (the CPU engine computes in fp32; "
                 "its bf16 kernels are slow references for tests); use fp32 or auto");
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

// The trainer keys that must agree with each other; what depends on trainer.algorithm is
// `algorithm_rules` (trainer/algorithm.cpp), run after the value checks it relies on.
void check_trainer(const JobConfig& c, const AlgorithmRules& algorithm_rules) {
    const TrainerConfig& t = c.trainer;
    const TrainerConfig d;
    STRIDE_CHECK(t.dual_clip == 0.0 || t.dual_clip > 1.0,
                 fmt::format("trainer.dual_clip: must be 0 (off) or > 1, got {}", t.dual_clip));
    STRIDE_CHECK(t.is_low <= t.is_cap,
                 fmt::format("trainer.is_low: {} is above trainer.is_cap = {}", t.is_low, t.is_cap));
    STRIDE_CHECK(t.is_level == "token" || t.is_correction != "none",
                 "trainer.is_level: " + t.is_level +
                     " weights need trainer.is_correction = truncate or mask; with none no importance "
                     "weight is applied");
    if (algorithm_rules) algorithm_rules(c);
    STRIDE_CHECK(t.critic == "shared" || t.vf_coef == d.vf_coef,
                 "trainer.vf_coef: weights the value loss on a trunk shared with the policy; with "
                 "trainer.critic = separate the critic has a loss of its own (set trainer.critic = shared)");
    STRIDE_CHECK(t.ref_model.empty() || t.kl_coef > 0,
                 "trainer.ref_model: set, but trainer.kl_coef = 0 uses no reference model");
    STRIDE_CHECK(!t.kl_in_reward || t.kl_coef > 0,
                 "trainer.kl_in_reward: set, but trainer.kl_coef = 0 puts no KL anywhere");
    STRIDE_CHECK(
        !t.kl_in_reward || !t.opob,
        "trainer.kl_in_reward: the OPOB baseline (trainer.opob) takes the raw rewards; put the KL in "
        "the loss instead");
    STRIDE_CHECK(t.ranks == 1 || c.launcher == "processes",
                 fmt::format("trainer.ranks: {} ranks run as processes; set launcher: processes (the threads "
                             "launcher has one trainer)",
                             t.ranks));
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
    STRIDE_CHECK(!c.data.train.empty(),
                 "data.train: required (a .parquet or JSONL file, gen:TASK?n=N&seed=S, or a list of them)");
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
        STRIDE_CHECK(c.sft.stop_at_sampled_accuracy == 0.0 || c.sft.eval_every > 0,
                     "sft.stop_at_sampled_accuracy: needs sft.eval_every > 0 to measure accuracy");
        STRIDE_CHECK(c.sft.warmup <= c.sft.steps,
                     fmt::format("sft.warmup: {} is more than sft.steps = {}", c.sft.warmup, c.sft.steps));
    }
}

void check_reward(const JobConfig& c) {
    // Refused here rather than by the first worker's init, which would name a plug-in, not the key.
    nlohmann::json j = nlohmann::json::parse(c.reward.plugin_config, nullptr, false);
    STRIDE_CHECK(!j.is_discarded() && j.is_object(),
                 "reward.plugin_config: must be a JSON object such as {\"key\": 1}, got '" +
                     c.reward.plugin_config + "'");
    // Every code_exec sample starts a sandbox and Python (tens of ms) and runs all its tests in this limit.
    if (c.reward.fn == "code_exec")
        STRIDE_CHECK(
            c.reward.timeout_s >= 0.5,
            fmt::format("reward.timeout_s: {} s is too short for code_exec, which starts Python in a "
                        "sandbox and runs all the tests of a sample within it; use at least 0.5",
                        c.reward.timeout_s));
}

// What the job listens on: without CURVE (common/network_auth.h) only loopback TCP, Unix sockets and
// inproc, unless network.unauthenticated says the network is trusted (common/bind_endpoint.h). metrics.bind
// may be any address (it serves no secrets, but it shows the job to whoever can reach it): the metrics server
// warns at start.
void check_listen(const JobConfig& c) {
    const bool open = exposure_allowed(c.network);
    STRIDE_CHECK(c.network.auth != "none" || c.network.keys_dir.empty(),
                 "network.keys_dir: set, but network.auth is none (no socket would use the keys)");
    check_bind_key("buffer.endpoint", c.buffer.endpoint, open, c.launcher);
    check_bind_key("network.prompts_bind", c.network.prompts_bind, open, c.launcher);
    check_bind_key("network.weights_bind", c.network.weights_bind, open, c.launcher);
    check_bind_key("network.scheduler_bind", c.network.scheduler_bind, open, "");
    STRIDE_CHECK(c.network.scheduler_bind.rfind("inproc://", 0) != 0,
                 "network.scheduler_bind: inproc:// endpoints cannot cross processes");
    check_bind_key("reward.bind", c.reward.bind, open, "");
    STRIDE_CHECK(c.reward.bind.rfind("inproc://", 0) != 0,
                 "reward.bind: inproc:// endpoints cannot cross processes (reward workers are processes)");
}

// The run directory is {run_dir}/{name}: a name is one path component, so that it cannot point the
// run (its checkpoints, buffer, sockets, and the fresh-start cleanup) outside run_dir.
void check_paths(const JobConfig& c) {
    const std::string& n = c.name;
    STRIDE_CHECK(!n.empty(), "name: must not be empty");
    STRIDE_CHECK(
        n != "." && n != ".." && n.find('/') == std::string::npos && n.find('\0') == std::string::npos,
        "name: '" + n +
            "' must be a single path component (no '/', not '.' or '..'): the run "
            "writes to {run_dir}/{name}/ and nowhere else");
    STRIDE_CHECK(!c.run_dir.empty(), "run_dir: must not be empty");
    for (const auto& k : config_schema()) {
        const std::string v = config_value_text(k, c);
        STRIDE_CHECK(v.find('\0') == std::string::npos, k.key + ": contains a NUL byte");
    }
}

// CPU lists parse, and a per-worker split has enough CPUs for every worker. Whether the CPUs exist
// is checked where the role starts (the config may be written on another machine).
void check_placement(const JobConfig& c) {
    const PlacementConfig& p = c.placement;
    auto parse = [](const char* key, const std::string& text) {
        try {
            return parse_cpu_list(text);
        } catch (const Error& e) {
            throw Error(std::string(key) + ": " + e.what());
        }
    };
    parse("placement.trainer_cpus", p.trainer_cpus);
    parse("placement.buffer_cpus", p.buffer_cpus);
    const std::vector<int> rollout = parse("placement.rollout_cpus", p.rollout_cpus);
    if (p.rollout_cpus_per_worker > 0) {
        const size_t need = static_cast<size_t>(p.rollout_cpus_per_worker) * c.rollout.workers;
        STRIDE_CHECK(
            rollout.size() >= need,
            fmt::format("placement.rollout_cpus_per_worker: {} workers x {} CPUs need {} CPUs, but "
                        "placement.rollout_cpus = '{}' has {}",
                        c.rollout.workers, p.rollout_cpus_per_worker, need, p.rollout_cpus, rollout.size()));
    }
}

}  // namespace

void check_job_config(const JobConfig& cfg, const AlgorithmRules& algorithm_rules) {
    for (const auto& k : config_schema()) check_config_value(k, cfg);
    check_model(cfg);
    check_data(cfg);
    check_rollout(cfg);
    check_trainer(cfg, algorithm_rules);
    check_reward(cfg);
    check_placement(cfg);
    check_listen(cfg);
    check_paths(cfg);
}

}  // namespace stride
