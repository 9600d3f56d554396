// PythonReward: the RewardFn of `reward.fn: python:path/to/file.py:function`, a user Python
// function scored in a pool of `python3 -m stride_reward serve FILE.py:FUNC --connect ENDPOINT`
// worker processes.
//
// The workers speak the plug-in pool's protocol (reward/plugin/plugin_protocol.h), so the pool is a
// PluginPool with another command: same batching, same per-sample timeout (the worker is killed),
// same isolation (a crashed or hung worker costs only the sample at fault, status error/timeout, and
// is replaced), same eager start (a missing file or function, an import error or a failing
// init(config) is an Error naming the file). The Python side is reward/plugin/python/stride_reward/.
#pragma once
#include <memory>
#include <string>

#include "reward/plugin/plugin_pool.h"
#include "reward/reward.h"

namespace stride {

struct PythonSpec {
    std::string path;      // the .py file
    std::string function;  // a Python identifier
};

bool is_python_spec(const std::string& fn);  // starts with "python:"
// "python:path/to/file.py:function". Throws Error when either part is missing or malformed.
PythonSpec parse_python_spec(const std::string& fn);

// The interpreter: $STRIDE_PYTHON, else /usr/bin/python3 (the system one, which the deployment
// provisions; a python3 first on PATH may be a virtualenv without our guarantees).
std::string python_interpreter();

// The folder holding the stride_reward package: $STRIDE_PYTHON_DIR, else share/stride/python next to
// the installed binary (<exe dir>/../share/stride/python), else the source tree this was built from.
// Throws Error naming the places looked at when none holds it.
std::string python_package_dir();
// The same search with its inputs spelled out, for tests: env_dir "" = unset.
std::string find_python_package_dir(const std::string& env_dir, const std::string& exe_path,
                                    const std::string& source_dir);

class PythonReward : public RewardFn {
   public:
    // opt: pool size, timeout and memory as for plug-ins; command/extra_env/kind are set here.
    PythonReward(const std::string& fn, PluginOptions opt);
    // Same contract as PluginReward: the raw score is partial credit, correct = score >= 1, and a
    // failure is status error/timeout with score 0 (never throws).
    RewardResult score(const RewardInput& in) const override;
    std::vector<RewardResult> score_batch(const std::vector<RewardInput>& in) const override;
    void cancel() const override { pool_->shutdown(); }
    std::string name() const override { return name_; }
    PluginStats stats() const { return pool_->stats(); }
    std::string endpoint() const { return pool_->endpoint(); }  // the bridge, for remote workers

   private:
    std::string name_;
    std::unique_ptr<PluginPool> pool_;
};

std::unique_ptr<PythonReward> make_python_reward(const std::string& fn, const PluginOptions& opt);

}  // namespace stride
