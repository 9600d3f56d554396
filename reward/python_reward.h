// PythonReward: the RewardFn of `reward.fn: python:path/to/file.py:function`, a user Python
// function scored in a pool of `python3 -m stride_reward serve` worker processes.
//
// The workers speak the C ABI plug-in protocol (reward/plugin_protocol.h), so the pool is a
// PluginPool with another command: same per-call timeout (the worker is killed), same isolation (a
// crashed or hung worker costs that one call, status error/timeout, and is replaced), same eager
// start (a missing file or function, or an import error, is an Error naming the file). The Python
// side is reward/python/stride_reward/.
#pragma once
#include <memory>
#include <string>

#include "reward/plugin_pool.h"
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

class PythonReward : public RewardFn {
   public:
    // opt: pool size, timeout and memory as for plug-ins; command/extra_env/kind are set here.
    PythonReward(const std::string& fn, PluginOptions opt);
    // Same contract as PluginReward: the raw score is partial credit, correct = score >= 1, and a
    // failure is status error/timeout with score 0 (never throws).
    RewardResult score(const RewardInput& in) const override;
    std::string name() const override { return name_; }
    PluginStats stats() const { return pool_->stats(); }

   private:
    std::string name_;
    std::unique_ptr<PluginPool> pool_;
};

std::unique_ptr<PythonReward> make_python_reward(const std::string& fn, const PluginOptions& opt);

}  // namespace stride
