// PluginPool: a C ABI reward plug-in (reward/stride_reward.h) run in worker processes.
//
// No plug-in code runs in the calling process: each worker is a fresh `stride reward worker`
// (fork + exec, so the child inherits no threads or locks of a busy rollout process), which loads
// the library, checks its ABI and calls init. Parent and worker talk over a socketpair with
// length-prefixed frames. A call that crashes its worker, or runs past the time limit (the worker
// is killed), returns status error/timeout; the dead worker is replaced on the next call.
#pragma once
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "reward/reward.h"

namespace stride {

struct PluginSpec {
    std::string path;                      // the shared object
    std::string prefix = "stride_reward";  // symbol prefix: <prefix>_init, <prefix>_score ...
};

bool is_plugin_spec(const std::string& fn);  // starts with "plugin:"
// "plugin:path/to/lib.so[:prefix]". Throws Error when the path is empty or the prefix is no C name.
PluginSpec parse_plugin_spec(const std::string& fn);

struct PluginOptions {
    int workers = 0;                 // pool size; 0: min(4, hardware threads)
    double timeout_s = 0.0;          // per call; <= 0: no limit
    int64_t memory_mb = 2048;        // address space a worker may add on top of its own (RLIMIT_AS); 0: off
    std::string worker_exe;          // the stride binary; empty: $STRIDE_REWARD_WORKER, else /proc/self/exe
    std::string config_json = "{}";  // passed to <prefix>_init
    double start_timeout_s = 30.0;   // exec + dlopen + init of one worker
    // Another worker program speaking the same protocol on fd 3 (python: rewards, reward/python/):
    // its full argv, replacing `stride reward worker ...`; worker_exe and config_json are then unused.
    std::vector<std::string> command;
    std::vector<std::string> extra_env;  // NAME=value entries added to (and overriding) the environment
    std::string kind = "plugin";         // how errors name the reward: "reward.fn: <kind> '<path>'"
};

struct PluginStats {
    int64_t calls = 0, errors = 0, timeouts = 0, crashes = 0, spawns = 0;
};

// A raw plug-in result: score as the plug-in gave it, status ok/error/timeout.
struct PluginScore {
    double score = 0.0;
    RewardStatus status = RewardStatus::ok;
    std::string detail;
};

class PluginPool {
   public:
    // Starts one worker at once, so that a missing file, a dlopen failure, a missing symbol, an ABI
    // mismatch or a failing init is an Error naming the library here, not a stream of sample errors.
    PluginPool(PluginSpec spec, PluginOptions opt);
    ~PluginPool();
    PluginPool(const PluginPool&) = delete;
    PluginPool& operator=(const PluginPool&) = delete;

    // Thread-safe; blocks while every worker is busy.
    PluginScore score(const std::string& prompt, const std::string& response, const std::string& label,
                      const std::string& metadata_json = "{}");
    // The RewardFn view shared by C and Python plug-ins: the sample's length facts as metadata
    // ({"response_tokens", "truncated"}); score = the raw score (1 full credit, 0 none),
    // correct = score >= 1; a failure is status error/timeout with score 0.
    RewardResult score(const RewardInput& in);
    PluginStats stats() const;
    const PluginSpec& spec() const { return spec_; }

   private:
    struct Worker {
        pid_t pid = -1;
        int fd = -1;
    };
    Worker spawn();                                         // throws Error with the worker's reason
    void retire(Worker w, bool kill_it, std::string* why);  // reaps it; *why: how it ended
    Worker checkout();
    void checkin(Worker w);

    PluginSpec spec_;
    PluginOptions opt_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Worker> idle_;
    int live_ = 0;  // idle + busy workers
    PluginStats stats_;
};

// The worker side (`stride reward worker --fd N ...`): loads the plug-in, reports readiness on fd,
// then serves requests until the parent closes its end. Returns the process exit code.
int run_reward_worker(int fd, const PluginSpec& spec, int64_t memory_mb, const std::string& config_json);

}  // namespace stride
