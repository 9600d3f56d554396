// PluginPool: a reward that runs outside the calling process, in a pool of worker processes: a C ABI
// plug-in (reward/stride_reward.h, `stride reward worker`) or a Python function
// (reward/plugin/python_reward.h, `python3 -m stride_reward serve`).
//
// Each worker is a fresh process (fork + exec, so it inherits no threads or locks of a busy rollout
// process) connected to the pool over ZeroMQ (reward/plugin/plugin_protocol.h). One dispatcher thread owns
// the socket and the workers: callers hand it batches, it splits them over the idle workers (one
// request of up to max_batch samples per worker), watches each request's deadline and each worker's
// exit, and starts replacements as work needs them.
//
// Time limit and isolation are per sample even in a batch. A worker reports the results finished so
// far whenever a request has run for a while (RewardRequest.flush_ms), so a request is late only when
// one sample ran past timeout_s. A worker that is late (it is SIGKILLed) or dies takes down only the
// samples it had not reported; those are scored again one per request, so that exactly the sample at
// fault ends with status timeout (or error, naming how the worker died) and the others get their
// scores. Nothing submitted is lost: every sample comes back, in order.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/curve_keys.h"
#include "reward/reward.h"

namespace stride {

struct PluginSpec {
    std::string path;                      // the shared object (or, for Python, the .py file)
    std::string prefix = "stride_reward";  // symbol prefix: <prefix>_init, <prefix>_score ...
};

bool is_plugin_spec(const std::string& fn);  // starts with "plugin:"
// "plugin:path/to/lib.so[:prefix]". Throws Error when the path is empty or the prefix is no C name.
PluginSpec parse_plugin_spec(const std::string& fn);

struct PluginOptions {
    int workers = 0;                 // pool size; 0: min(4, hardware threads)
    double timeout_s = 0.0;          // per sample; <= 0: no limit
    int64_t memory_mb = 2048;        // address space a worker may add on top of its own (RLIMIT_AS); 0: off
    std::string worker_exe;          // the stride binary; empty: $STRIDE_REWARD_WORKER, else /proc/self/exe
    std::string config_json = "{}";  // passed to <prefix>_init (Python: init(config), when defined)
    double start_timeout_s = 30.0;   // exec + load + init of one worker
    int max_batch = 256;             // samples per request to one worker
    // Another worker program speaking reward/plugin/plugin_protocol.h (python: rewards): its argv, to which
    // the pool appends `--connect ENDPOINT`; worker_exe is then unused.
    std::vector<std::string> command;
    std::vector<std::string> extra_env;  // NAME=value entries added to (and overriding) the environment
    std::string kind = "plugin";         // how errors name the reward: "reward.fn: <kind> '<path>'"
    // The bridge (reward.bind): where the pool listens; empty: ipc:// in a private directory. Its own
    // workers connect to what was bound, a wildcard host replaced by 127.0.0.1.
    std::string bind;
    // The job's key set: the pool serves CURVE with it and admits only the job's client keys, and its
    // workers are handed keys_dir (the files, never the keys, on their command line) to connect with.
    std::shared_ptr<const CurveKeys> curve;
    std::string keys_dir;
    // Admit workers the pool did not start (`hello remote`: a reward server on another host). Only
    // with curve, so that whoever joins holds the job's keys.
    bool admit_remote = false;
};

// Samples by outcome (calls = samples submitted), and worker events.
struct PluginStats {
    int64_t calls = 0, errors = 0, timeouts = 0;
    int64_t crashes = 0;        // workers that died while scoring (status error for their sample)
    int64_t spawns = 0;         // workers started
    int64_t retries = 0;        // samples scored again alone after their request failed
    int64_t remote_joined = 0;  // workers the pool did not start that joined (admit_remote)
    uint64_t auth_refused = 0;  // peers the bridge refused (CURVE: no key, or not the job's)
};

class PluginPool {
   public:
    // Starts one worker at once, so that a missing file, a dlopen or import failure, a missing symbol,
    // an ABI mismatch or a failing init is an Error naming the file here, not a stream of sample
    // errors. The others start when work is waiting for them.
    PluginPool(PluginSpec spec, PluginOptions opt);
    ~PluginPool();  // stops the workers; a busy one is killed
    PluginPool(const PluginPool&) = delete;
    PluginPool& operator=(const PluginPool&) = delete;

    // Thread-safe; blocks until every sample has its result. score = the raw score (1 full credit, 0
    // none), correct = score >= 1; a failure is status error/timeout with score 0 (never throws).
    // Metadata for the worker: response_tokens, truncated, data_source, extra_info (reward/reward.h).
    std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in);
    RewardResult score(const RewardInput& in);

    // Fails what is queued or in flight (status error, "reward pool shut down"), kills the workers and
    // fails every later call at once. Safe while other threads wait in score_batch: they return.
    void shutdown();

    PluginStats stats() const;
    const PluginSpec& spec() const { return spec_; }
    // The bridge's bound endpoint (tcp://...:* resolved to its port), for workers on other hosts.
    std::string endpoint() const;

   private:
    struct Dispatcher;
    PluginSpec spec_;
    std::unique_ptr<Dispatcher> d_;
};

// The worker side of a C ABI plug-in (`stride reward worker --connect ENDPOINT ...`): loads it, says
// ready, serves requests until told to stop. keys_dir: the job's key set when the bridge has CURVE
// ("" otherwise). Returns the process exit code.
int run_reward_worker(const std::string& endpoint, const PluginSpec& spec, int64_t memory_mb,
                      const std::string& keys_dir = "");

}  // namespace stride
