// The schema table of JobConfig and the typed parse/format of one value.
#include "common/config_schema.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "common/base/error.h"

namespace stride {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

ConfigBounds at_least(double v) {
    return {v, kInf, false, false, 0};
}
ConfigBounds above(double v) {
    return {v, kInf, true, false, 0};
}
ConfigBounds above_up_to(double lo, double hi) {
    return {lo, hi, true, false, 0};
}
ConfigBounds between(double lo, double hi) {
    return {lo, hi, false, false, 0};
}
ConfigBounds from_up_to_below(double lo, double hi) {
    return {lo, hi, false, true, 0};
}
ConfigBounds list_of(int n, ConfigBounds b) {
    b.list_len = n;
    return b;
}

// Binds a row to a field; the unary + turns the capture-less lambda into a plain function pointer
// whose type (std::string&, int&, ...) selects the value type of the key.
#define FIELD(path)               \
    +[](JobConfig & c) -> auto& { \
        return c.path;            \
    }

const std::vector<ConfigKey>& schema_table() {
    static const std::vector<ConfigKey> table = {
        // ---- job ---------------------------------------------------------------------------------
        {"name", FIELD(name),
         "job name, one path component (no /, not . or ..); the run writes to {run_dir}/{name}/"},
        {"seed", FIELD(seed), "seed of data order, sampling and everything not seeded elsewhere",
         at_least(0)},
        {"run_dir", FIELD(run_dir), "parent directory of run directories"},
        {"resume",
         FIELD(resume),
         "off: start fresh; auto: continue from the latest checkpoint if any; require: fail without one",
         {},
         {"off", "auto", "require"}},
        {"overwrite", FIELD(overwrite),
         "with resume: off, start over in a run directory that holds checkpoints: removes its checkpoints, "
         "buffer and metrics.jsonl (false: refuse and say how to resume)"},
        {"launcher",
         FIELD(launcher),
         "run the roles as threads of one process or as child processes",
         {},
         {"threads", "processes"}},
        {"threads", FIELD(threads), "compute threads per process (0: all cores)", at_least(0)},
        {"blas_kernels",
         FIELD(blas_kernels),
         "auto: OpenBLAS's fastest kernels for this CPU; portable: its Haswell (AVX2 + FMA) kernels on every "
         "x86-64 CPU, so a seed gives the same run on Intel and AMD (with the same `threads`)",
         {},
         {"auto", "portable"}},
        {"tokenizer", FIELD(tokenizer), "tokenizer.json path; empty: {model.path}/tokenizer.json"},
        // ---- model -------------------------------------------------------------------------------
        {"model.path", FIELD(model.path),
         "Hugging Face checkpoint directory; empty: build a new model from model.init"},
        {"model.init.arch",
         FIELD(model.init.arch),
         "architecture of a new model",
         {},
         {"llama", "qwen2", "qwen3"}},
        {"model.init.hidden", FIELD(model.init.hidden), "hidden size d", at_least(1)},
        {"model.init.layers", FIELD(model.init.layers), "decoder layers", at_least(1)},
        {"model.init.heads", FIELD(model.init.heads), "attention (query) heads; must divide hidden",
         at_least(1)},
        {"model.init.kv_heads", FIELD(model.init.kv_heads), "key/value heads (GQA); must divide heads",
         at_least(1)},
        {"model.init.intermediate", FIELD(model.init.intermediate), "SwiGLU inner size", at_least(1)},
        {"model.init.vocab", FIELD(model.init.vocab), "vocabulary size (0: the tokenizer's)", at_least(0)},
        {"model.init.tie", FIELD(model.init.tie), "tie the input embedding and the LM head"},
        {"model.init.seed", FIELD(model.init.seed), "seed of the initial weights", at_least(0)},
        {"model.device",
         FIELD(model.device),
         "where the engine computes: cpu, or cuda (one GPU; refused at load when the binary has no CUDA or "
         "no GPU is visible)",
         {},
         {"cpu", "cuda"}},
        // ---- data --------------------------------------------------------------------------------
        {"data.train", FIELD(data.train),
         "training prompts: a .parquet or JSONL file, a generator spec gen:TASK?n=N&seed=S, or a list of "
         "them (required)"},
        {"data.eval", FIELD(data.eval),
         "eval prompts (.parquet, JSONL, gen: spec, or a list of them); empty: hold out data.eval_size "
         "prompts of data.train"},
        {"data.prompt_key", FIELD(data.prompt_key),
         "JSON key (dotted path) of the prompt: a string or chat messages"},
        {"data.answer_key", FIELD(data.answer_key),
         "JSON key (dotted path) of the answer; reward_model.ground_truth is the fallback"},
        {"data.chat_template",
         FIELD(data.chat_template),
         "how prompts are rendered to text before tokenizing: auto renders chat messages with the model's "
         "own chat_template (tokenizer_config.json beside tokenizer.json) and keeps plain prompts as they "
         "are",
         {},
         {"auto", "none", "qwen"}},
        {"data.eval_size", FIELD(data.eval_size), "prompts in the fixed eval set (0: no eval)", at_least(0)},
        {"data.max_prompt_tokens", FIELD(data.max_prompt_tokens),
         "drop train and eval prompts of more tokens (chat template applied), as verl's "
         "filter_overlong_prompts; 0: keep all",
         at_least(0)},
        // ---- sft ---------------------------------------------------------------------------------
        {"sft.enabled", FIELD(sft.enabled), "supervised warm start on the answers before RL"},
        {"sft.steps", FIELD(sft.steps), "maximum SFT steps", at_least(1)},
        {"sft.lr", FIELD(sft.lr), "SFT AdamW learning rate", above(0)},
        {"sft.batch", FIELD(sft.batch), "SFT examples per step", at_least(1)},
        {"sft.warmup", FIELD(sft.warmup), "SFT linear warm-up steps, then constant", at_least(0)},
        {"sft.eval_every", FIELD(sft.eval_every), "SFT steps between greedy evals (0: off)", at_least(0)},
        {"sft.stop_at_accuracy", FIELD(sft.stop_at_accuracy),
         "end SFT once greedy eval accuracy reaches this (0: never)", between(0, 1)},
        {"sft.stop_at_sampled_accuracy", FIELD(sft.stop_at_sampled_accuracy),
         "and once sampled eval accuracy (one sample per prompt at rollout.temperature) reaches this (0: not "
         "checked)",
         between(0, 1)},
        // ---- rollout -----------------------------------------------------------------------------
        {"rollout.workers", FIELD(rollout.workers), "rollout workers", at_least(1)},
        {"rollout.n", FIELD(rollout.n), "samples per prompt (group size G)", at_least(1)},
        {"rollout.temperature", FIELD(rollout.temperature), "sampling temperature", above(0)},
        {"rollout.top_p", FIELD(rollout.top_p), "nucleus sampling mass (1: off)", {0, 1, true, false, 0}},
        {"rollout.top_k", FIELD(rollout.top_k), "top-k sampling (-1: off)", at_least(-1)},
        {"rollout.max_tokens", FIELD(rollout.max_tokens), "new tokens per sample (L_max)", at_least(1)},
        {"rollout.segment_tokens", FIELD(rollout.segment_tokens),
         "segment rollout: tokens per response per round, unfinished responses continue next round (0: off)",
         at_least(0)},
        {"rollout.mode",
         FIELD(rollout.mode),
         "sync: generate then train; async: overlap, bounded by buffer.max_staleness",
         {},
         {"sync", "async"}},
        {"rollout.kv_on_update",
         FIELD(rollout.kv_on_update),
         "KV cache of unfinished samples after a weight update: recompute with new weights or keep",
         {},
         {"recompute", "keep"}},
        {"rollout.max_batch_seqs", FIELD(rollout.max_batch_seqs), "sequences one worker decodes together",
         at_least(1)},
        {"rollout.kv_blocks", FIELD(rollout.kv_blocks),
         "paged KV blocks per worker (0: enough for max_batch_seqs)", at_least(0)},
        {"rollout.block_size", FIELD(rollout.block_size), "tokens per KV block", at_least(1)},
        {"rollout.kv_dtype",
         FIELD(rollout.kv_dtype),
         "KV cache elements: fp32, or bf16 (half the memory and reads; behaviour log-probs then see K/V "
         "rounded "
         "to bf16)",
         {},
         {"fp32", "bf16"}},
        {"rollout.device", FIELD(rollout.device),
         "rollout workers' device: cpu or cuda (empty: model.device)"},
        {"rollout.dtype",
         FIELD(rollout.dtype),
         "how the rollout engine stores its weights: bf16 (projections with bf16 inputs and fp32 "
         "accumulation; cuda only), fp32, or auto (bf16 on cuda, fp32 on cpu)",
         {},
         {"auto", "fp32", "bf16"}},
        {"rollout.kv_memory_fraction", FIELD(rollout.kv_memory_fraction),
         "on cuda with rollout.kv_blocks 0: the share of the GPU's memory a worker may fill; its KV pool "
         "gets what is left after memory already in use, the weights and the activations",
         above_up_to(0, 1)},
        // ---- reward ------------------------------------------------------------------------------
        {"reward.fn", FIELD(reward.fn),
         "built-in reward (exact_match, arith, math, gsm8k, collatz, code_exec), plugin:lib.so[:prefix] or "
         "python:file.py:function, or a weighted sum of them: 0.8*math + 0.2*python:fmt.py:score"},
        {"reward.correct", FIELD(reward.correct), "score of a correct answer"},
        {"reward.incorrect", FIELD(reward.incorrect), "score of a wrong answer (DAPO: -1)"},
        {"reward.format_weight", FIELD(reward.format_weight), "subtracted when no answer can be extracted",
         at_least(0)},
        {"reward.overlong_buffer", FIELD(reward.overlong_buffer),
         "DAPO soft overlong punishment over the last N tokens before rollout.max_tokens (0: off)",
         at_least(0)},
        {"reward.overlong_penalty", FIELD(reward.overlong_penalty), "overlong penalty at rollout.max_tokens",
         at_least(0)},
        {"reward.timeout_s", FIELD(reward.timeout_s),
         "time limit to score one sample (status timeout after); > 0, since a reward that never returns "
         "would "
         "stall rollout",
         above(0)},
        {"reward.max_error_frac", FIELD(reward.max_error_frac),
         "stop the job (checkpoint, exit 1) when more than this share of the samples trained on over the "
         "last 5 steps got no score (reward error or timeout); 1: never stop",
         between(0, 1)},
        {"reward.workers", FIELD(reward.workers),
         "worker processes of a plugin: or python: reward, sandboxes code_exec runs at once (0: min(4, "
         "cores))",
         at_least(0)},
        {"reward.worker_memory_mb", FIELD(reward.worker_memory_mb),
         "address space each reward worker may add, in MiB (0: unlimited)", at_least(0)},
        {"reward.plugin_config", FIELD(reward.plugin_config),
         "JSON object handed to a plugin's init symbol or a python file's init(config)"},
        {"reward.bind", FIELD(reward.bind),
         "where a plugin: or python: reward's pool listens for its workers, e.g. tcp://*:7500 (empty: an "
         "ipc:// socket in a private directory); with CURVE keys, workers on other hosts may join "
         "(python3 -m stride_reward serve FILE.py:FUNC --connect tcp://HOST:7500 --remote)"},
        {"reward.code_exec_isolation",
         FIELD(reward.code_exec_isolation),
         "code_exec sandbox: namespaces (required, refused where unavailable) or none (rlimits and syscall "
         "filter only: programs can read the machine's files)",
         {},
         {"namespaces", "none"}},
        {"reward.code_exec_score",
         FIELD(reward.code_exec_score),
         "code_exec score: fraction of the tests passed, or all (1 only when every test passes)",
         {},
         {"fraction", "all"}},
        {"reward.code_exec_memory_mb", FIELD(reward.code_exec_memory_mb),
         "code_exec: address space of each sandboxed process, in MiB", at_least(64)},
        // ---- buffer ------------------------------------------------------------------------------
        {"buffer.dir", FIELD(buffer.dir), "experience buffer directory; empty: {run_dir}/{name}/buffer"},
        {"buffer.sync_wal", FIELD(buffer.sync_wal), "fsync the write-ahead log on every append"},
        {"buffer.capacity", FIELD(buffer.capacity), "trajectories held before producers wait", at_least(1)},
        {"buffer.endpoint", FIELD(buffer.endpoint),
         "ZeroMQ endpoint the buffer binds: loopback tcp://, ipc:// or inproc:// (others need CURVE keys "
         "or network.unauthenticated); empty: chosen by the launcher"},
        {"buffer.max_staleness", FIELD(buffer.max_staleness),
         "async: policy versions a trajectory may lag behind the trainer (sync mode: 0)", at_least(0)},
        // ---- trainer -----------------------------------------------------------------------------
        {"trainer.algorithm", FIELD(trainer.algorithm),
         "advantage estimator and loss (verl's gae, reinforce_plus_plus, reinforce_plus_plus_baseline are "
         "accepted for ppo, reinforce_pp, reinforce_pp_baseline); dapo/dr_grpo/gspo/vcpo also preset the "
         "keys "
         "listed in the README"},
        // (its choices are the rows of the algorithm table: ConfigChoices from the loader)
        {"trainer.device", FIELD(trainer.device),
         "trainer's device: cpu or cuda (cuda needs every backward kernel there; empty: model.device)"},
        {"trainer.ranks",
         FIELD(trainer.ranks),
         "data-parallel trainer processes (launcher: processes; one GPU each with trainer.device = cuda): "
         "each step's batch is split among them by token count and their gradients summed",
         {1, 64, false, false, 0}},
        {"trainer.steps", FIELD(trainer.steps), "RL steps (rollout batch + update)", at_least(1)},
        {"trainer.prompts_per_step", FIELD(trainer.prompts_per_step),
         "prompts per RL step (each sampled rollout.n times)", at_least(1)},
        {"trainer.lr", FIELD(trainer.lr), "AdamW learning rate", above(0)},
        {"trainer.warmup_steps", FIELD(trainer.warmup_steps), "linear warm-up steps", at_least(0)},
        {"trainer.lr_schedule",
         FIELD(trainer.lr_schedule),
         "learning rate after warm-up",
         {},
         {"constant", "linear", "cosine"}},
        {"trainer.weight_decay", FIELD(trainer.weight_decay), "AdamW decoupled weight decay", at_least(0)},
        {"trainer.betas", FIELD(trainer.betas), "AdamW beta1, beta2", list_of(2, from_up_to_below(0, 1))},
        {"trainer.eps", FIELD(trainer.eps), "AdamW epsilon", above(0)},
        {"trainer.grad_clip", FIELD(trainer.grad_clip), "clip the global gradient L2 norm to this (0: off)",
         at_least(0)},
        {"trainer.clip_low", FIELD(trainer.clip_low), "PPO ratio clip below: 1 - clip_low",
         from_up_to_below(0, 1)},
        {"trainer.clip_high", FIELD(trainer.clip_high),
         "PPO ratio clip above: 1 + clip_high (DAPO clip-higher 0.28)", at_least(0)},
        {"trainer.dual_clip", FIELD(trainer.dual_clip),
         "dual-clip bound c for negative advantages, > 1 (0: off)", at_least(0)},
        {"trainer.loss_agg",
         FIELD(trainer.loss_agg),
         "how token losses are reduced",
         {},
         {"token_mean", "seq_mean_token_mean", "seq_mean_token_sum", "seq_mean_token_sum_norm"},
         {{"token-mean", "token_mean"},  // verl's loss_agg_mode spellings
          {"seq-mean-token-mean", "seq_mean_token_mean"},
          {"seq-mean-token-sum", "seq_mean_token_sum"},
          {"seq-mean-token-sum-norm", "seq_mean_token_sum_norm"}}},
        {"trainer.norm_adv_by_std", FIELD(trainer.norm_adv_by_std),
         "divide group-centred rewards by the group std"},
        {"trainer.adv_eps", FIELD(trainer.adv_eps), "added to the group std before dividing", at_least(0)},
        {"trainer.dynamic_sampling", FIELD(trainer.dynamic_sampling),
         "DAPO dynamic sampling: drop groups whose correctness is all equal, sample more"},
        {"trainer.max_gen_batches", FIELD(trainer.max_gen_batches),
         "dynamic sampling: a step gives up after this many batches (x prompts_per_step groups) (0: "
         "unlimited)",
         at_least(0)},
        {"trainer.oversample", FIELD(trainer.oversample),
         "dynamic sampling: ask for as many replacements as the keep rate so far says are needed (false: one "
         "per dropped group)"},
        {"trainer.overlong_filter", FIELD(trainer.overlong_filter),
         "DAPO overlong filtering: responses cut at rollout.max_tokens carry no loss (their rewards still "
         "count "
         "in their group)"},
        {"trainer.micro_batch_tokens", FIELD(trainer.micro_batch_tokens),
         "tokens per forward/backward micro-batch (0: whole batch at once)", at_least(0)},
        {"trainer.mini_batches", FIELD(trainer.mini_batches), "optimiser steps per rollout batch",
         at_least(1)},
        {"trainer.ppo_epochs", FIELD(trainer.ppo_epochs), "passes over each rollout batch", at_least(1)},
        {"trainer.kl_coef", FIELD(trainer.kl_coef),
         "KL-to-reference loss coefficient (0: no reference model)", at_least(0)},
        {"trainer.kl_type",
         FIELD(trainer.kl_type),
         "KL estimator (k3 = low_var_kl)",
         {},
         {"k1", "k2", "k3"},
         {{"kl", "k1"}, {"mse", "k2"}, {"low_var_kl", "k3"}}},  // verl's kl_loss_type / kl_penalty
        {"trainer.kl_in_reward", FIELD(trainer.kl_in_reward),
         "KL as a reward term (verl use_kl_in_reward): kl_coef * k per token is subtracted from the rewards "
         "before the advantages (summed into the outcome reward for group algorithms) instead of added to "
         "the "
         "loss; reinforce_pp always does this"},
        {"trainer.entropy_coef", FIELD(trainer.entropy_coef), "entropy bonus coefficient", at_least(0)},
        {"trainer.is_correction",
         FIELD(trainer.is_correction),
         "weight each token by rho = pi_prox/mu (rollout log-probs; one rho per response with is_level = "
         "sequence): truncate = TIS clamp(rho, is_low, is_cap); mask = decoupled PPO, rho outside [is_low, "
         "is_cap] drops the token",
         {},
         {"none", "truncate", "mask"}},
        {"trainer.is_cap", FIELD(trainer.is_cap), "upper bound on the importance weight rho", above(0)},
        {"trainer.is_low", FIELD(trainer.is_low), "lower bound on the importance weight rho", at_least(0)},
        {"trainer.is_level",
         FIELD(trainer.is_level),
         "token: rho per token; sequence: one rho = exp(sum_t log rho_t) per response, truncated or masked "
         "as a "
         "whole and applied to all its tokens (VCPO)",
         {},
         {"token", "sequence"}},
        {"trainer.mpt_mask", FIELD(trainer.mpt_mask),
         "UloRL dynamic masking of well-mastered positive tokens (p above mpt_prob) while entropy is below "
         "mpt_entropy"},
        {"trainer.mpt_prob", FIELD(trainer.mpt_prob),
         "probability above which a positive token counts as mastered", between(0, 1)},
        {"trainer.mpt_entropy", FIELD(trainer.mpt_entropy),
         "entropy target below which mastered tokens are masked", at_least(0)},
        {"trainer.ess_lr",
         FIELD(trainer.ess_lr),
         "VCPO: scale the learning rate by the effective sample size of the importance weights",
         {},
         {"off", "sqrt", "linear"}},
        {"trainer.opob", FIELD(trainer.opob),
         "VCPO off-policy optimal baseline (gradient- and IS-weighted group mean) instead of the group mean; "
         "costs one forward+backward per response"},
        {"trainer.gamma", FIELD(trainer.gamma), "discount of reinforce_pp returns and of ppo's GAE",
         between(0, 1)},
        {"trainer.lam", FIELD(trainer.lam), "ppo: GAE lambda", between(0, 1)},
        {"trainer.critic",
         FIELD(trainer.critic),
         "ppo: the critic is a second model started from the policy's weights, or a value head on the policy",
         {},
         {"separate", "shared"}},
        {"trainer.critic_lr", FIELD(trainer.critic_lr),
         "ppo: critic AdamW learning rate, same schedule as trainer.lr (0: 10 x trainer.lr)", at_least(0)},
        {"trainer.vf_coef", FIELD(trainer.vf_coef), "ppo with a shared critic: weight of the value loss",
         above(0)},
        {"trainer.vf_clip", FIELD(trainer.vf_clip), "ppo: value clip range around the step's starting values",
         above(0)},
        {"trainer.ref_model", FIELD(trainer.ref_model),
         "KL reference checkpoint directory; empty: the policy RL started from (after SFT), also on resume"},
        {"trainer.eval_every", FIELD(trainer.eval_every), "RL steps between greedy evals (0: off)",
         at_least(0)},
        {"trainer.checkpoint_every", FIELD(trainer.checkpoint_every),
         "RL steps between checkpoints (0: only at the end)", at_least(0)},
        {"trainer.keep_checkpoints", FIELD(trainer.keep_checkpoints),
         "complete checkpoints kept, newest first; older ones are deleted once a new one is complete (0: "
         "keep "
         "all)",
         at_least(0)},
        {"trainer.temperature", FIELD(trainer.temperature),
         "temperature of the trainer's log-probs; must equal rollout.temperature (0: take it from there)",
         at_least(0)},
        // ---- metrics / log -----------------------------------------------------------------------
        {"metrics.port", FIELD(metrics.port), "Prometheus /metrics port (0: off)", between(0, 65535)},
        {"metrics.bind", FIELD(metrics.bind),
         "address the metrics server binds (not loopback: a warning at start)"},
        {"metrics.jsonl", FIELD(metrics.jsonl), "metrics log file; empty: {run_dir}/{name}/metrics.jsonl"},
        // ---- placement ---------------------------------------------------------------------------
        {"placement.trainer_cpus", FIELD(placement.trainer_cpus),
         "CPUs the trainer runs on, e.g. 0-3 (empty: not pinned); its compute threads = their count"},
        {"placement.rollout_cpus", FIELD(placement.rollout_cpus),
         "CPUs of the rollout workers (empty: not pinned); shared unless rollout_cpus_per_worker > 0"},
        {"placement.rollout_cpus_per_worker", FIELD(placement.rollout_cpus_per_worker),
         "> 0: rollout worker i owns CPUs [i*n, (i+1)*n) of placement.rollout_cpus", at_least(0)},
        {"placement.buffer_cpus", FIELD(placement.buffer_cpus),
         "CPUs of the experience buffer (empty: not pinned)"},
        {"log.level", FIELD(log.level), "log level", {}, {"trace", "debug", "info", "warn", "error", "off"}},
        {"log.json", FIELD(log.json), "log one JSON object per line instead of text"},
        {"log.samples_every", FIELD(log.samples_every),
         "every N steps write the first log.samples_groups groups of the step to {run}/samples.jsonl, and "
         "the first log.samples_eval eval generations at each eval (0: off)",
         at_least(0)},
        {"log.samples_groups", FIELD(log.samples_groups), "groups per sampled step in samples.jsonl",
         at_least(1)},
        {"log.samples_eval", FIELD(log.samples_eval),
         "eval generations written to samples.jsonl at each eval (0: none)", at_least(0)},
        // ---- network (roles on several machines) -------------------------------------------------
        {"network.scheduler_bind", FIELD(network.scheduler_bind),
         "where `stride role scheduler` listens for roles started with --scheduler, e.g. tcp://*:7400 "
         "(empty: its --scheduler flag)"},
        {"network.prompts_bind", FIELD(network.prompts_bind),
         "ZeroMQ endpoint the prompt dispatcher binds (empty: chosen by the launcher)"},
        {"network.weights_bind", FIELD(network.weights_bind),
         "ZeroMQ endpoint the trainer's weight publisher binds (empty: chosen by the launcher)"},
        {"network.auth",
         FIELD(network.auth),
         "who may connect to role sockets: curve (the job's CURVE keys, always), none (anyone who can "
         "reach them), auto (curve where keys are known: the threads/processes launchers make a set per "
         "start, a role started with --scheduler uses network.keys_dir)",
         {},
         {"auto", "curve", "none"}},
        {"network.keys_dir", FIELD(network.keys_dir),
         "directory of the job's CURVE key set, owner-only files (`stride keys gen DIR`); empty: the "
         "threads/processes launchers write a fresh set to {run_dir}/{name}/keys at each start"},
        {"network.unauthenticated", FIELD(network.unauthenticated),
         "allow binds beyond loopback without CURVE keys (network.keys_dir or network.auth=curve): only on "
         "a network where every host is trusted"},
        {"network.connect_timeout_s", FIELD(network.connect_timeout_s),
         "how long a role keeps trying to register with the scheduler, with back-off", at_least(1)},
        {"network.lost_after_s", FIELD(network.lost_after_s),
         "silence after which a role stops (scheduler unreachable) and the scheduler frees its worker id",
         above(0)},
        // ---- recovery ----------------------------------------------------------------------------
        {"recovery.rollout_restarts", FIELD(recovery.rollout_restarts),
         "a rollout worker (launcher: processes, or started with --scheduler) that dies (a signal, a "
         "non-zero exit) is started again at most this many times (0: never)",
         at_least(0)},
        {"recovery.buffer_restarts", FIELD(recovery.buffer_restarts),
         "a buffer (launcher: processes, or started with --scheduler) that dies is started again on its "
         "RocksDB directory at most this many times (0: a dead buffer stops the job)",
         at_least(0)},
        {"recovery.trainer_restarts", FIELD(recovery.trainer_restarts),
         "a trainer (launcher: processes, or started with --scheduler) that dies is started again from its "
         "last checkpoint at most this many times, the rollout workers paused or restarted meanwhile (0: a "
         "dead trainer stops the job)",
         at_least(0)},
        {"recovery.restart_backoff_s", FIELD(recovery.restart_backoff_s),
         "wait before restarting a role; doubles with each restart of that role, at most "
         "recovery.restart_backoff_max_s",
         above(0)},
        {"recovery.restart_backoff_max_s", FIELD(recovery.restart_backoff_max_s),
         "the longest wait before a restart", above(0)},
        // ---- deadlines ---------------------------------------------------------------------------
        {"deadlines.buffer_s", FIELD(deadlines.buffer_s),
         "a call to the experience buffer (put, pull, commit, ...) that gets no answer, or only BUSY, this "
         "long fails naming the buffer; the trainer then checkpoints and stops",
         above_up_to(0, 86400)},
        {"deadlines.dispatcher_s", FIELD(deadlines.dispatcher_s),
         "a rollout worker (prompt requests) or the trainer (extra prompts) whose prompt dispatcher does not "
         "answer this long fails naming it",
         above_up_to(0, 86400)},
        {"deadlines.weights_s", FIELD(deadlines.weights_s),
         "a rollout worker, or the prompt dispatcher (the gate's version), whose weight publisher (the "
         "trainer) does not answer this long fails naming it",
         above_up_to(0, 86400)},
        {"deadlines.collective_s", FIELD(deadlines.collective_s),
         "trainer.ranks > 1: a trainer rank that does not reach a collective (gradient all-reduce, the next "
         "step) this long makes the others fail naming it; the job restarts the trainer group "
         "(recovery.trainer_restarts)",
         above_up_to(0, 86400)},
        // ---- weights -----------------------------------------------------------------------------
        {"weights.transport",
         FIELD(weights.transport),
         "how new weights reach the rollout workers: nccl (GPU to GPU; needs a build with NCCL and "
         "trainer and rollout on cuda), shm (a memory file on one host), zmq (chunks over ZeroMQ), auto "
         "(nccl when both roles are on cuda in separate processes and NCCL is built in, shm on one host, "
         "zmq otherwise); ZeroMQ stays the fallback",
         {},
         {"auto", "zmq", "shm", "nccl"}},
        {"weights.timeout_s", FIELD(weights.timeout_s),
         "deadline of one whole weight transfer over NCCL and of each NCCL call in it; past it the "
         "communicator is aborted, the failure logged naming the peer and call, and the version goes "
         "over ZeroMQ",
         above_up_to(0, 86400)},
        {"weights.bucket_mb", FIELD(weights.bucket_mb),
         "size of one NCCL broadcast bucket in MiB (bf16 on the wire)", above_up_to(0, 4096)},
    };
    return table;
}

#undef FIELD

std::string format_bound(double v) {
    std::string s = fmt::format("{}", v);
    return s;
}

std::string quoted(const std::string& text) {
    return "\"" + text + "\"";
}

double parse_number(const ConfigKey& k, const std::string& text) {
    const char* s = text.c_str();
    char* end = nullptr;
    errno = 0;
    double x = std::strtod(s, &end);
    bool ok = !text.empty() && end && *end == '\0' && errno != ERANGE && std::isfinite(x);
    STRIDE_CHECK(ok, k.key + ": expected a number, got " + quoted(text));
    return x;
}

int parse_int(const ConfigKey& k, const std::string& text) {
    const char* s = text.c_str();
    char* end = nullptr;
    errno = 0;
    long long x = std::strtoll(s, &end, 10);
    bool ok = !text.empty() && end && *end == '\0' && errno != ERANGE;
    STRIDE_CHECK(ok, k.key + ": expected an integer, got " + quoted(text));
    STRIDE_CHECK(x >= INT_MIN && x <= INT_MAX, k.key + ": " + text + " is out of the integer range");
    return static_cast<int>(x);
}

bool parse_bool(const ConfigKey& k, const std::string& text) {
    std::string t = text;
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "true" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "no" || t == "off") return false;
    throw Error(k.key + ": expected true or false, got " + quoted(text));
}

std::string bounds_text(const ConfigBounds& b) {
    bool has_lo = std::isfinite(b.lo), has_hi = std::isfinite(b.hi);
    if (has_lo && has_hi)
        return fmt::format("in {}{}, {}{}", b.lo_open ? "(" : "[", format_bound(b.lo), format_bound(b.hi),
                           b.hi_open ? ")" : "]");
    if (has_lo) return fmt::format("{} {}", b.lo_open ? ">" : ">=", format_bound(b.lo));
    if (has_hi) return fmt::format("{} {}", b.hi_open ? "<" : "<=", format_bound(b.hi));
    return "";
}

void check_bounds(const ConfigKey& k, double v, const std::string& shown) {
    const ConfigBounds& b = k.bounds;
    bool ok = (b.lo_open ? v > b.lo : v >= b.lo) && (b.hi_open ? v < b.hi : v <= b.hi);
    STRIDE_CHECK(ok, k.key + ": " + shown + " is out of range (expected " + bounds_text(b) + ")");
}

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1] ? 1 : 0)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// ("trainer", "lr") for "trainer.lr"; ("", "seed") for "seed".
std::pair<std::string, std::string> split_key(const std::string& key) {
    const size_t dot = key.rfind('.');
    if (dot == std::string::npos) return {"", key};
    return {key.substr(0, dot), key.substr(dot + 1)};
}

// How many edits a hint may be away from what was typed.
size_t close_enough(const std::string& typed) {
    return std::max<size_t>(1, typed.size() / 3);
}

// Every section of the schema, outer ones too ("model", "model.init").
std::vector<std::string> config_sections() {
    std::vector<std::string> out;
    for (const auto& k : config_schema())
        for (std::string s = split_key(k.key).first; !s.empty(); s = split_key(s).first)
            if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    return out;
}

bool is_config_section(const std::string& s) {
    const auto all = config_sections();
    return std::find(all.begin(), all.end(), s) != all.end();
}

// The key of `section` whose last part is closest to `last` ("" when none is close enough).
std::string closest_in_section(const std::string& section, const std::string& last) {
    std::string best;
    size_t best_d = SIZE_MAX;
    for (const auto& k : config_schema()) {
        const auto [s, l] = split_key(k.key);
        if (s != section) continue;
        const size_t d = edit_distance(last, l);
        if (d < best_d) best_d = d, best = k.key;
    }
    return best_d <= close_enough(last) ? best : "";
}

// A name without a section: a top-level key or section, else a key whose last part it is.
std::string suggest_top_level(const std::string& name) {
    std::string best;
    size_t best_d = SIZE_MAX;
    std::vector<std::string> names = config_sections();
    for (const auto& k : config_schema()) names.push_back(k.key);
    for (const std::string& n : names) {
        if (n.find('.') != std::string::npos) continue;
        const size_t d = edit_distance(name, n);
        if (d < best_d) best_d = d, best = n;
    }
    if (best_d <= close_enough(name)) return best;
    for (const auto& k : config_schema())
        if (split_key(k.key).second == name) return k.key;
    return "";
}

template <class T>
T& field_ref(const ConfigKey& k, JobConfig& cfg) {
    return std::get<T& (*)(JobConfig&)>(k.field)(cfg);
}

}  // namespace

const std::vector<ConfigKey>& config_schema() {
    return schema_table();
}

void check_config_choice(const std::string& key, const std::string& value,
                         const std::vector<std::string>& choices) {
    if (std::find(choices.begin(), choices.end(), value) != choices.end()) return;
    std::string allowed;
    for (const auto& ch : choices) allowed += (allowed.empty() ? "" : ", ") + ch;
    throw Error(key + ": expected one of " + allowed + ", got " + quoted(value));
}

// Always with a '.' or an exponent so that YAML (and a reader) sees a float: 1 -> "1.0",
// 1e-4 -> "0.0001", 1e-8 -> "1e-08".
std::string format_config_number(double x) {
    std::string s = fmt::format("{}", x);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

std::string canonical_config_choice(const ConfigKey& k, const std::string& value) {
    for (const ConfigAlias& a : k.aliases)
        if (a.alias == value) return a.value;
    return value;
}

const ConfigKey* find_config_key(const std::string& key) {
    for (const auto& k : config_schema())
        if (k.key == key) return &k;
    return nullptr;
}

std::string suggest_config_key(const std::string& unknown) {
    const auto [section, last] = split_key(unknown);
    if (section.empty()) return suggest_top_level(unknown);
    if (is_config_section(section)) return closest_in_section(section, last);
    // A misspelt section: the closest section that has (nearly) the same key.
    std::string best;
    size_t best_d = SIZE_MAX;
    for (const std::string& s : config_sections()) {
        if (split_key(s).first != split_key(section).first) continue;  // same parent only
        size_t d = edit_distance(section, s);
        if (d > close_enough(section) || d >= best_d) continue;
        std::string hit = closest_in_section(s, last);
        if (!hit.empty()) best_d = d, best = hit;
    }
    return best;
}

std::string config_key_type(const ConfigKey& k, const ConfigChoices& layered) {
    std::string range = bounds_text(k.bounds);
    auto with_range = [&](std::string t) { return range.empty() ? t : t + " " + range; };
    switch (k.field.index()) {
        case 0: {
            const auto it = layered.find(k.key);
            const std::vector<std::string>& choices = it != layered.end() ? it->second : k.choices;
            if (choices.empty()) return "string";
            std::string t = "enum:";
            for (size_t i = 0; i < choices.size(); ++i) t += (i ? ", " : " ") + choices[i];
            for (size_t i = 0; i < k.aliases.size(); ++i)
                t += (i ? ", " : " (also ") + k.aliases[i].alias + (i + 1 == k.aliases.size() ? ")" : "");
            return t;
        }
        case 1:
            return with_range("int");
        case 2:
            return with_range("number");
        case 3:
            return "bool";
        default:
            return with_range(k.bounds.list_len ? fmt::format("list of {} numbers", k.bounds.list_len)
                                                : std::string("list of numbers"));
    }
}

std::string config_value_text(const ConfigKey& k, const JobConfig& cfg) {
    JobConfig& c = const_cast<JobConfig&>(cfg);  // the field lambdas take non-const; we only read
    switch (k.field.index()) {
        case 0: {
            const std::string& s = field_ref<std::string>(k, c);
            return s.empty() ? "\"\"" : s;
        }
        case 1:
            return std::to_string(field_ref<int>(k, c));
        case 2:
            return format_config_number(field_ref<double>(k, c));
        case 3:
            return field_ref<bool>(k, c) ? "true" : "false";
        default: {
            std::string t = "[";
            const auto& v = field_ref<std::vector<double>>(k, c);
            for (size_t i = 0; i < v.size(); ++i) t += (i ? ", " : "") + format_config_number(v[i]);
            return t + "]";
        }
    }
}

void set_config_value(const ConfigKey& k, JobConfig& cfg, const std::string& text) {
    switch (k.field.index()) {
        case 0:
            field_ref<std::string>(k, cfg) = canonical_config_choice(k, text);
            break;
        case 1:
            field_ref<int>(k, cfg) = parse_int(k, text);
            break;
        case 2:
            field_ref<double>(k, cfg) = parse_number(k, text);
            break;
        case 3:
            field_ref<bool>(k, cfg) = parse_bool(k, text);
            break;
        default: {
            // Override form: "[0.9, 0.95]" or "0.9,0.95".
            std::string t = text;
            if (!t.empty() && t.front() == '[') {
                STRIDE_CHECK(t.back() == ']',
                             k.key + ": expected a list like [0.9, 0.999], got " + quoted(text));
                t = t.substr(1, t.size() - 2);
            }
            std::vector<std::string> items;
            size_t start = 0;
            while (start <= t.size()) {
                size_t comma = t.find(',', start);
                if (comma == std::string::npos) comma = t.size();
                std::string item = t.substr(start, comma - start);
                item.erase(0, item.find_first_not_of(" \t"));
                item.erase(item.find_last_not_of(" \t") + 1);
                if (!item.empty() || comma < t.size()) items.push_back(item);
                start = comma + 1;
            }
            set_config_list(k, cfg, items);
        }
    }
    check_config_value(k, cfg);
}

void set_config_list(const ConfigKey& k, JobConfig& cfg, const std::vector<std::string>& items) {
    if (k.key == "data.train" || k.key == "data.eval") {  // a list of dataset files or specs
        std::string joined;
        for (const auto& item : items) {
            STRIDE_CHECK(item.find(',') == std::string::npos,
                         k.key + ": a dataset path in a list may not hold a comma: '" + item + "'");
            joined += (joined.empty() ? "" : ",") + item;
        }
        field_ref<std::string>(k, cfg) = joined;
        return;
    }
    STRIDE_CHECK(k.field.index() == 4, k.key + ": expected a single value, got a list");
    std::vector<double> v;
    for (const auto& item : items) v.push_back(parse_number(k, item));
    field_ref<std::vector<double>>(k, cfg) = v;
    check_config_value(k, cfg);
}

void check_config_value(const ConfigKey& k, const JobConfig& cfg) {
    JobConfig& c = const_cast<JobConfig&>(cfg);
    switch (k.field.index()) {
        case 0:
            if (!k.choices.empty()) check_config_choice(k.key, field_ref<std::string>(k, c), k.choices);
            break;
        case 1:
            check_bounds(k, field_ref<int>(k, c), std::to_string(field_ref<int>(k, c)));
            break;
        case 2:
            check_bounds(k, field_ref<double>(k, c), format_config_number(field_ref<double>(k, c)));
            break;
        case 3:
            break;
        default: {
            const auto& v = field_ref<std::vector<double>>(k, c);
            if (k.bounds.list_len)
                STRIDE_CHECK(static_cast<int>(v.size()) == k.bounds.list_len,
                             fmt::format("{}: expected a list of {} numbers, got {}", k.key,
                                         k.bounds.list_len, v.size()));
            for (double x : v) check_bounds(k, x, format_config_number(x));
        }
    }
}

std::string config_keys_markdown(const ConfigChoices& layered) {
    const JobConfig defaults;
    std::string out = "| key | type | default | meaning |\n|---|---|---|---|\n";
    for (const auto& k : config_schema())
        out += fmt::format("| `{}` | {} | `{}` | {} |\n", k.key, config_key_type(k, layered),
                           config_value_text(k, defaults), k.doc);
    return out;
}

}  // namespace stride
