// make_reward: a built-in reward by name, wrapped in the configured shaping and time limit.
//
//   score = correct ? reward.correct : reward.incorrect
//         - reward.format_weight                      if no answer could be extracted (unparseable)
//         + overlong(L)                               DAPO soft overlong punishment, <= 0
//   overlong(L) = -min(max(L - (L_max - B), 0) / B, 1) * reward.overlong_penalty
//   with L = response tokens, L_max = rollout.max_tokens, B = reward.overlong_buffer (0: off).
//   A reward that throws or runs past reward.timeout_s scores reward.incorrect (status error/timeout).
//   A plug-in's score s in [0, 1] maps linearly: reward.incorrect + s * (reward.correct - reward.incorrect).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/curve_keys.h"
#include "reward/reward.h"

namespace stride {

struct RewardSpec {
    std::string fn = "exact_match";
    double correct = 1.0;
    double incorrect = 0.0;
    double format_weight = 0.0;
    int overlong_buffer = 0;
    double overlong_penalty = 1.0;
    int max_tokens = 0;      // L_max of the overlong penalty
    double timeout_s = 0.0;  // per sample; 0: no limit (jobs require a limit: reward.timeout_s > 0)
    // plugin:path/to/lib.so[:prefix] and python:file.py:function only (reward/plugin/plugin_pool.h):
    // reward.workers, reward.worker_memory_mb, reward.plugin_config.
    int plugin_workers = 0;            // worker processes; 0: min(4, hardware threads)
    int64_t plugin_memory_mb = 2048;   // RLIMIT_AS headroom of each worker; 0: unlimited
    std::string plugin_worker_exe;     // empty: $STRIDE_REWARD_WORKER, else this binary
    std::string plugin_config = "{}";  // JSON object handed to <prefix>_init / Python init(config)
    // The bridge to the workers (PluginOptions): reward.bind, the job's CURVE keys and their directory
    // (from network.keys_dir; null: plain), and whether workers from other hosts may join.
    std::string bridge_bind;
    std::shared_ptr<const CurveKeys> curve;
    std::string keys_dir;
    bool admit_remote = false;
    // code_exec only (reward/code_exec/code_exec.h): reward.code_exec_isolation, reward.code_exec_score,
    // reward.code_exec_memory_mb; reward.workers sandboxes run at once.
    std::string code_exec_isolation = "namespaces";  // namespaces | none (rlimits and seccomp only)
    std::string code_exec_score = "fraction";        // fraction of tests passed | all (1 or 0)
    int64_t code_exec_memory_mb = 1024;              // address space of each sandboxed process
};

// curve: the job's key set (JobContext::curve; null: plain), which the bridge serves and whose
// directory, network.keys_dir, its workers read; reward.bind with keys admits remote workers.
RewardSpec reward_spec_from_config(const JobConfig& cfg, std::shared_ptr<const CurveKeys> curve = nullptr);

std::vector<std::string> builtin_reward_names();  // sorted
// The bare correctness reward: a built-in, or a plug-in (plugin:path[:prefix] or
// python:file.py:function, default pool options) whose library or file is loaded and checked in a
// worker here, or code_exec with default options (isolation required: throws where namespaces are
// unavailable, since the name alone cannot carry reward.code_exec_isolation: none). Throws Error
// "reward.fn: unknown reward 'x' (built-ins: ...)" or one naming the plug-in file and what is wrong.
std::unique_ptr<RewardFn> make_base_reward(const std::string& name);
// The shaped reward of `spec` (one reward, or a weighted sum of terms: reward/composite_reward.h);
// thread-safe to call from many workers.
std::shared_ptr<const RewardFn> make_reward(const RewardSpec& spec);

// The overlong term alone (<= 0), for tests and metrics.
double overlong_penalty(int length, int max_tokens, int buffer, double factor);

}  // namespace stride
