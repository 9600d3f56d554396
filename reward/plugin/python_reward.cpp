#include "reward/plugin/python_reward.h"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/base/error.h"
#include "reward/identifier.h"
#include "reward/plugin/worker_process.h"

#ifndef STRIDE_PYTHON_SOURCE_DIR
#error "STRIDE_PYTHON_SOURCE_DIR (the source folder holding stride_reward/) must be defined by the build"
#endif

namespace stride {

namespace {}  // namespace

bool is_python_spec(const std::string& fn) {
    return fn.rfind("python:", 0) == 0;
}

PythonSpec parse_python_spec(const std::string& fn) {
    STRIDE_CHECK(is_python_spec(fn), "reward.fn: '" + fn + "' is not python:file.py:function");
    std::string rest = fn.substr(7);
    auto colon = rest.rfind(':');
    STRIDE_CHECK(colon != std::string::npos && colon > 0,
                 "reward.fn: '" + fn + "' needs a file and a function (python:path/to/file.py:function)");
    PythonSpec spec{rest.substr(0, colon), rest.substr(colon + 1)};
    STRIDE_CHECK(is_identifier(spec.function),
                 "reward.fn: python function name '" + spec.function + "' is not a Python identifier");
    return spec;
}

std::string python_interpreter() {
    const char* env = std::getenv("STRIDE_PYTHON");
    return env && *env ? env : "/usr/bin/python3";
}

std::string find_python_package_dir(const std::string& env_dir, const std::string& exe_path,
                                    const std::string& source_dir) {
    auto holds = [](const std::string& dir) {
        return access((dir + "/stride_reward/__main__.py").c_str(), R_OK) == 0;
    };
    // An explicit choice that is wrong is an error, not a reason to quietly use another copy.
    if (!env_dir.empty()) {
        STRIDE_CHECK(holds(env_dir),
                     "STRIDE_PYTHON_DIR: '" + env_dir + "' holds no stride_reward/__main__.py");
        return env_dir;
    }
    namespace fs = std::filesystem;
    const std::string installed =
        (fs::path(exe_path).parent_path().parent_path() / "share" / "stride" / "python").lexically_normal();
    if (holds(installed)) return installed;
    if (holds(source_dir)) return source_dir;
    throw Error("reward.fn: python: the stride_reward package is in neither " + installed +
                " (installed) nor " + source_dir +
                " (source tree); set STRIDE_PYTHON_DIR to the folder holding stride_reward/");
}

std::string python_package_dir() {
    const char* env = std::getenv("STRIDE_PYTHON_DIR");
    return find_python_package_dir(env ? env : "", self_exe_path(), STRIDE_PYTHON_SOURCE_DIR);
}

PythonReward::PythonReward(const std::string& fn, PluginOptions opt) : name_(fn) {
    PythonSpec spec = parse_python_spec(fn);
    std::string python = python_interpreter();
    // exec failing in the child would only say "exited with status 127": name the interpreter here.
    STRIDE_CHECK(access(python.c_str(), X_OK) == 0, "reward.fn: python '" + spec.path + "': interpreter '" +
                                                        python + "': " + std::strerror(errno) +
                                                        " (set STRIDE_PYTHON)");
    opt.kind = "python";
    // The pool appends --connect ENDPOINT.
    opt.command = {python,
                   "-m",
                   "stride_reward",
                   "serve",
                   spec.path + ":" + spec.function,
                   "--memory-mb",
                   std::to_string(opt.memory_mb)};
    std::string path = python_package_dir();
    if (const char* old = std::getenv("PYTHONPATH"); old && *old) path += std::string(":") + old;
    // Unbuffered: user prints (sent to stderr by the pool) show up before a crash, not never.
    // No bytecode: the user's directory and ours may be read-only or a source tree.
    opt.extra_env = {"PYTHONPATH=" + path, "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"};
    pool_ = std::make_unique<PluginPool>(PluginSpec{spec.path, "stride_reward"}, std::move(opt));
}

// Python functions get the metadata as keyword arguments (verl: extra_info).
RewardResult PythonReward::score(const RewardInput& in) const {
    return pool_->score(in);
}

std::vector<RewardResult> PythonReward::score_batch(const std::vector<RewardInput>& in) const {
    return pool_->score_batch(in);
}

std::unique_ptr<PythonReward> make_python_reward(const std::string& fn, const PluginOptions& opt) {
    return std::make_unique<PythonReward>(fn, opt);
}

}  // namespace stride
