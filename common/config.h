// JobConfig: everything one `stride run CONFIG [key=value ...]` job needs, as a typed struct tree.
//
// The default of every field is written once, here, as its initialiser. The schema in
// common/config_schema.cpp binds each field to its dotted YAML key with a doc string and a range,
// and everything else is generated from that one table: YAML loading, `key=value` overrides, the
// resolved-config dump written into the run dir, and `stride config keys` (the README table).
// Adding a knob = add the field here + one line in the schema table.
//
// Names follow verl/AReaL where they have one (rollout.n, clip_low/clip_high, loss_agg, kl_coef,
// max_staleness ...), so users of those systems recognise them.
#pragma once
#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace stride {

// Architecture of a model built from scratch (when model.path is empty). Mirrors the fields of a
// Hugging Face config.json that matter for a dense decoder.
struct ModelInitConfig {
    std::string arch = "qwen2";
    int hidden = 128;
    int layers = 4;
    int heads = 4;
    int kv_heads = 4;
    int intermediate = 344;  // ~8/3 * hidden rounded up to a multiple of 8, as Llama does
    int vocab = 0;           // 0: the tokenizer's vocabulary size
    bool tie = false;        // tie input embedding and lm_head
    int seed = 1;            // weight-init seed (separate from the job seed so data order can vary alone)
    bool operator==(const ModelInitConfig&) const = default;
};

struct ModelSection {
    std::string path;  // HF checkpoint dir (config.json + *.safetensors); empty: build from `init`
    ModelInitConfig init;
    std::string device =
        "cpu";  // cpu | cuda: where the engine computes (rollout.device/trainer.device override)
    bool operator==(const ModelSection&) const = default;
};

struct DataConfig {
    std::string train;                  // .parquet/JSONL file, gen spec `gen:arith?n=20500&seed=1`, or a list
    std::string eval;                   // the same; empty: hold out eval_size from train
    std::string prompt_key = "prompt";  // dotted path into each JSON line
    std::string answer_key = "answer";  // dotted path; verl's reward_model.ground_truth is a fallback
    std::string chat_template = "auto";  // auto | none | qwen
    int eval_size = 500;                 // prompts in the fixed eval set (0: no eval set)
    int max_prompt_tokens = 0;           // drop longer prompts (verl's filter_overlong_prompts); 0: keep all
    bool operator==(const DataConfig&) const = default;
};

// Supervised warm start before RL (loss on answer tokens only).
struct SftConfig {
    bool enabled = false;
    int steps = 1000;  // upper bound; stop_at_accuracy may end it earlier
    double lr = 1e-3;
    int batch = 64;
    int warmup = 50;
    int eval_every = 25;
    double stop_at_accuracy = 0.0;  // stop SFT once greedy eval accuracy reaches this (0: run all steps)
    // ... and (when > 0) once the accuracy of one sample per eval prompt at rollout.temperature reaches
    // this too: the signal GRPO will get from the start (0: greedy alone decides).
    double stop_at_sampled_accuracy = 0.0;
    bool operator==(const SftConfig&) const = default;
};

struct RolloutConfig {
    int workers = 1;
    int n = 8;  // samples per prompt (the GRPO group size G)
    double temperature = 1.0;
    double top_p = 1.0;
    int top_k = -1;             // -1: off
    int max_tokens = 1024;      // new tokens per sample (L_max)
    int segment_tokens = 0;     // segment rollout: at most this many tokens per response per round (0: off)
    std::string mode = "sync";  // sync | async
    std::string kv_on_update =
        "recompute";                // recompute | keep: KV cache of unfinished samples after a weight update
    int max_batch_seqs = 256;       // sequences decoded together by one worker
    int kv_blocks = 0;              // paged KV cache blocks per worker (0: sized from max_batch_seqs)
    int block_size = 16;            // tokens per KV block
    std::string kv_dtype = "fp32";  // fp32 | bf16: element type of the paged KV cache
    std::string device;             // cpu | cuda; empty: model.device
    std::string dtype = "auto";     // auto | fp32 | bf16: how the engine stores weights (auto: bf16 on cuda)
    double kv_memory_fraction = 0.9;  // cuda, kv_blocks 0: share of GPU memory the worker may fill
    bool operator==(const RolloutConfig&) const = default;
};

struct RewardConfig {
    std::string fn = "exact_match";  // built-in reward name (see reward/registry.h)
    double correct = 1.0;            // score of a correct answer
    double incorrect = 0.0;          // score of a wrong answer (DAPO uses -1)
    double format_weight = 0.0;      // subtracted when no answer can be extracted
    int overlong_buffer = 0;         // DAPO soft overlong punishment window L_cache in tokens (0: off)
    double overlong_penalty = 1.0;   // penalty factor at L_max
    double timeout_s = 10.0;         // per-sample scoring time limit
    // The trainer stops the job (with a checkpoint, exit != 0) when more than this share of the samples
    // it trained on over the last few steps got no score (status error or timeout); 1: never stop.
    double max_error_frac = 0.5;
    // Plug-in and Python rewards (reward/plugin/plugin_pool.h): worker processes, address space each may
    // add (0: unlimited), and the JSON object handed to <prefix>_init / Python init(config).
    int workers = 2;
    int worker_memory_mb = 2048;
    std::string plugin_config = "{}";
    // Where the pool of a plugin: or python: reward listens for its workers (the reward bridge): empty,
    // an ipc:// socket in a private directory; a tcp:// address also admits workers started on other
    // hosts (`python3 -m stride_reward serve ... --remote`), only when the bridge authenticates (CURVE).
    std::string bind;
    // code_exec (reward/code_exec/code_exec.h): namespaces | none (rlimits and seccomp only, an explicit
    // opt-out), fraction | all of the tests, address space of each sandboxed process.
    std::string code_exec_isolation = "namespaces";
    std::string code_exec_score = "fraction";
    int code_exec_memory_mb = 1024;
    bool operator==(const RewardConfig&) const = default;
};

// Named apart from buffer/buffer_config.h, the buffer service's own settings.
struct ExperienceBufferConfig {
    std::string dir;        // experience buffer directory; empty: <run>/buffer
    bool sync_wal = false;  // fsync the write-ahead log on every append
    int capacity = 4096;    // trajectories held before producers block
    std::string endpoint;   // ZeroMQ endpoint of the buffer service; empty: in-process / automatic
    int max_staleness = 1;  // async: max policy versions a trajectory may lag (ignored in sync mode)
    bool operator==(const ExperienceBufferConfig&) const = default;
};

struct TrainerConfig {
    std::string algorithm = "grpo";  // a row of the algorithm table, trainer/algorithm.cpp
    std::string device;              // cpu | cuda; empty: model.device
    int ranks = 1;                   // data-parallel trainer processes (launcher: processes), one per GPU
    int steps = 100;
    int prompts_per_step = 32;
    double lr = 1e-6;
    int warmup_steps = 0;
    std::string lr_schedule = "constant";  // constant | linear | cosine (after warm-up)
    double weight_decay = 0.01;
    std::vector<double> betas = {0.9, 0.999};
    double eps = 1e-8;
    double grad_clip = 1.0;  // global L2 norm (0: off)
    double clip_low = 0.2;   // PPO ratio lower bound 1 - clip_low
    double clip_high = 0.2;  // PPO ratio upper bound 1 + clip_high (DAPO clip-higher: 0.28)
    double dual_clip = 3.0;  // dual-clip constant c for negative advantages (0: off)
    std::string loss_agg =
        "token_mean";  // token_mean | seq_mean_token_mean | seq_mean_token_sum | seq_mean_token_sum_norm
    bool norm_adv_by_std = true;    // divide group-centred rewards by the group std (GRPO)
    double adv_eps = 1e-6;          // added to the group std
    bool dynamic_sampling = false;  // DAPO: drop groups whose rewards are all equal
    bool overlong_filter = false;   // DAPO: truncated responses carry no loss
    int max_gen_batches = 10;       // DAPO: give up after this many rollout batches per step
    bool oversample = true;         // DAPO: ask for replacements at the observed keep rate
    int micro_batch_tokens = 8192;  // tokens per forward/backward micro-batch (0: whole batch)
    int mini_batches = 1;           // optimiser steps per rollout batch
    int ppo_epochs = 1;
    double kl_coef = 0.0;        // KL-to-reference loss coefficient (0: no reference model)
    std::string kl_type = "k3";  // k1 | k2 | k3
    bool kl_in_reward = false;   // the KL penalty is a per-token reward term, not a loss term
    double entropy_coef = 0.0;
    // Behaviour-policy correction for stale or mismatched samples: importance weight
    // rho = pi_prox / mu per token (mu = the rollout engine's log-probs).
    std::string is_correction = "none";  // none | truncate (TIS) | mask (decoupled PPO / icepop)
    double is_cap = 2.0;                 // upper bound on rho
    double is_low = 0.0;                 // lower bound on rho (mask: below it the token is dropped)
    std::string is_level = "token";      // token | sequence (one rho = prod_t rho_t per response)
    bool mpt_mask = false;               // UloRL: mask well-mastered positive tokens while entropy is low
    double mpt_prob = 0.99;              // tau: a positive token with p > tau is "mastered"
    double mpt_entropy = 0.2;            // sigma: masking applies while entropy is below this
    std::string ess_lr =
        "off";           // VCPO: scale the lr by the batch's effective sample size (off | sqrt | linear)
    bool opob = false;   // VCPO: off-policy optimal baseline instead of the group mean
    double gamma = 1.0;  // discount of REINFORCE++ returns and of PPO's GAE
    double lam = 1.0;    // PPO: GAE lambda
    std::string critic = "separate";  // PPO: separate (a second model) | shared (value head on the policy)
    double critic_lr = 0.0;           // PPO: critic learning rate (0: 10 x trainer.lr, verl's ratio)
    double vf_coef = 0.5;             // PPO, shared critic: weight of the value loss
    double vf_clip = 0.5;             // PPO: value clip range around the values at the start of the step
    std::string ref_model;            // KL reference checkpoint; empty: the policy RL started from
    int eval_every = 10;              // RL steps between greedy evals (0: off)
    int checkpoint_every = 50;        // RL steps between checkpoints (0: only at the end)
    int keep_checkpoints = 3;         // complete checkpoints kept, newest first (0: keep all)
    double temperature = 0.0;         // logits temperature for train log-probs (0: rollout.temperature)
    bool operator==(const TrainerConfig&) const = default;
};

struct MetricsConfig {
    int port = 0;  // Prometheus /metrics port (0: off)
    std::string bind = "127.0.0.1";
    std::string jsonl;  // metrics log; empty: <run>/metrics.jsonl
    bool operator==(const MetricsConfig&) const = default;
};

struct LogConfig {
    std::string level = "info";  // trace | debug | info | warn | error | off
    bool json = false;           // one JSON object per line instead of text
    // <run>/samples.jsonl: what the policy generated (trainer/sample_log.h). Every samples_every
    // steps the first samples_groups groups of the step; at each eval the first samples_eval eval
    // generations. 0: off.
    int samples_every = 0;
    int samples_groups = 2;
    int samples_eval = 8;
    bool operator==(const LogConfig&) const = default;
};

// Cores each role owns (CPU lists "0-3,8"; empty: not pinned, compute threads from `threads`).
struct PlacementConfig {
    std::string trainer_cpus;
    std::string rollout_cpus;         // shared by all rollout workers, or split (rollout_cpus_per_worker)
    int rollout_cpus_per_worker = 0;  // > 0: worker i owns the i-th run of this many CPUs of rollout_cpus
    std::string buffer_cpus;
    bool operator==(const PlacementConfig&) const = default;
};

// Where each role channel binds, and how roles on several machines find each other (issue #18).
// Empty bind: the launcher's default (threads: loopback TCP on a free port; processes: a Unix socket
// in <run>/sockets; a role started with --scheduler: this host, a free port).
struct NetworkConfig {
    std::string scheduler_bind;  // the scheduler's registry (roles started with --scheduler register there)
    std::string prompts_bind;    // the prompt dispatcher
    std::string weights_bind;    // the trainer's weight publisher
    // auto: CURVE when the keys are known (the threads and processes launchers make a set per start;
    // a role started with --scheduler needs keys_dir); curve: always (keys required); none: never.
    std::string auth = "auto";
    std::string keys_dir;          // the job's CURVE key set (`stride keys gen DIR`); empty: the launcher's
    bool unauthenticated = false;  // allow non-loopback binds although peers may not be authenticated
    int connect_timeout_s = 300;   // a role keeps trying to register with the scheduler this long
    double lost_after_s = 30;      // silence after which a role and the scheduler give each other up
    bool operator==(const NetworkConfig&) const = default;
};

// Restarts inside a job (issue #18): a rollout worker started with --scheduler that dies is started
// again by its own supervisor process (scheduler/role_supervisor.h).
struct RecoveryConfig {
    int rollout_restarts = 0;             // restarts of one rollout worker at most (0: none)
    int buffer_restarts = 0;              // restarts of the buffer at most (processes or --scheduler)
    int trainer_restarts = 0;             // restarts of the trainer at most (processes or --scheduler)
    double restart_backoff_s = 1.0;       // wait before a restart; doubles per restart of the role
    double restart_backoff_max_s = 30.0;  // ... at most this long
    bool operator==(const RecoveryConfig&) const = default;
};

// How long a role waits on a peer that does not answer (issue #15). Past it, the call fails with an
// error naming the peer's endpoint and the key; a trainer checkpoints first. A stop ends any wait
// sooner (within about a second).
struct DeadlinesConfig {
    double buffer_s = 60;       // a buffer call (put, pull, commit, ...): no answer, or only BUSY, this long
    double dispatcher_s = 60;   // the prompt dispatcher silent this long (prompt requests, extra prompts)
    double weights_s = 60;      // the trainer's weight publisher silent this long (weight fetches)
    double collective_s = 300;  // a trainer rank waited on this long in one collective (trainer.ranks)
    bool operator==(const DeadlinesConfig&) const = default;
};

// How new weights reach the rollout workers (issue #17). auto: nccl when the trainer and the rollout
// workers compute on cuda in separate processes of a binary built with NCCL, shm (ZeroMQ control, a
// memory file for the bytes) on one host, zmq otherwise; resolved by resolve_weight_transport
// (common/weight_transport.h). ZeroMQ always serves every version too: it is the fallback.
struct WeightsConfig {
    std::string transport = "auto";  // auto | zmq | shm | nccl
    double timeout_s = 60;           // one whole transfer, and each NCCL call within it
    double bucket_mb = 64;           // NCCL broadcast bucket (MiB)
    bool operator==(const WeightsConfig&) const = default;
};

// A deadline key's seconds as the milliseconds a call takes (at least 1; the schema caps keys at a day).
inline int deadline_ms(double seconds) {
    return std::max(1, static_cast<int>(std::min(seconds, 86400.0) * 1000.0 + 0.5));
}

struct JobConfig {
    std::string name = "job";
    int seed = 1;
    std::string run_dir = "runs";      // the job writes to <run_dir>/<name>/
    std::string resume = "off";        // off | auto | require
    bool overwrite = false;            // a fresh start may remove an earlier run's checkpoints
    std::string launcher = "threads";  // threads | processes
    ModelSection model;
    std::string tokenizer;  // tokenizer.json; empty: <model.path>/tokenizer.json
    DataConfig data;
    SftConfig sft;
    RolloutConfig rollout;
    RewardConfig reward;
    ExperienceBufferConfig buffer;
    TrainerConfig trainer;
    MetricsConfig metrics;
    LogConfig log;
    int threads = 0;  // compute threads (0: all cores)
    std::string blas_kernels = "auto";  // auto (OpenBLAS's per-CPU choice) | portable (same bits on any x86-64-v3)
    PlacementConfig placement;
    NetworkConfig network;
    RecoveryConfig recovery;
    DeadlinesConfig deadlines;
    WeightsConfig weights;
    bool operator==(const JobConfig&) const = default;

    std::string run_path() const { return run_dir + "/" + name; }
};

// The device each role computes on: its own key, or model.device when that is empty. The config key
// that chose it (for messages) is rollout.device/trainer.device, or model.device.
inline const std::string& rollout_device(const JobConfig& c) {
    return c.rollout.device.empty() ? c.model.device : c.rollout.device;
}
// The rollout engine's weight dtype: rollout.dtype, with auto resolved (bf16 on cuda, fp32 on cpu).
inline std::string rollout_dtype(const JobConfig& c) {
    if (c.rollout.dtype != "auto") return c.rollout.dtype;
    return rollout_device(c) == "cuda" ? "bf16" : "fp32";
}
inline const std::string& trainer_device(const JobConfig& c) {
    return c.trainer.device.empty() ? c.model.device : c.trainer.device;
}

// A config as the user wrote it: a YAML text and its `key.sub=value` overrides (applied in order),
// typed by the schema, and the dotted keys they set. Unknown keys, wrong types and out-of-range values
// are errors naming the key (and file:line). Nothing that depends on other keys is applied yet: the
// job config loader (scheduler/job_config.h: load_job_config, parse_job_config) adds what
// trainer.algorithm implies, resolves derived values and validates.
struct ConfigInput {
    JobConfig cfg;
    std::set<std::string> given;
};
// `source` names the text in messages.
ConfigInput read_job_config(const std::string& yaml_text, const std::string& source,
                            const std::vector<std::string>& overrides = {});
// The text of a config file; throws "PATH: cannot open config file".
std::string read_job_config_file(const std::string& path);

// Sets `key` to `value` (YAML text, typed by the schema) unless the user gave it: what another key
// implies for the keys left unset (the algorithm presets).
void preset_config_value(ConfigInput& in, const std::string& key, const std::string& value);

// Fills values that default to "take it from another key" (trainer.temperature), so the dump shows
// what the run uses.
void resolve_derived_values(JobConfig& cfg);

// The rules that tie keys to trainer.algorithm, handed in by the loader: common/ knows no algorithm.
using AlgorithmRules = std::function<void(const JobConfig&)>;
// Checks ranges of every key and the combinations between keys; `algorithm_rules` runs among the
// trainer checks. Throws stride::Error naming the dotted key at fault.
void check_job_config(const JobConfig& cfg, const AlgorithmRules& algorithm_rules);

// The resolved config as YAML, every key present; parse_job_config(dump_job_config(c)) == c.
std::string dump_job_config(const JobConfig& cfg);
// The same, only the keys in `only` (all when empty), in schema order with their comments.
std::string dump_job_config_keys(const JobConfig& cfg, const std::set<std::string>& only);

}  // namespace stride
