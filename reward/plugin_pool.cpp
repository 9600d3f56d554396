// The parent side of the plug-in pool: spawning, calling and reaping `stride reward worker`s.
#include "reward/plugin_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>

#include "common/base/error.h"
#include "reward/plugin_protocol.h"

extern char** environ;

namespace stride {

namespace {

using namespace plugin_wire;

bool is_c_name(const std::string& s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::string self_exe() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "/proc/self/exe";
    return std::string(buf, static_cast<size_t>(n));
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "worker exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        return "worker killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    }
    return "worker ended (wait status " + std::to_string(status) + ")";
}

std::string basename_of(const std::string& path) {
    auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool is_plugin_spec(const std::string& fn) {
    return fn.rfind("plugin:", 0) == 0;
}

PluginSpec parse_plugin_spec(const std::string& fn) {
    STRIDE_CHECK(is_plugin_spec(fn), "reward.fn: '" + fn + "' is not plugin:path[:prefix]");
    PluginSpec spec;
    spec.path = fn.substr(7);
    // A trailing ":name" is the symbol prefix; a colon followed by anything else belongs to the path.
    auto colon = spec.path.rfind(':');
    if (colon != std::string::npos && spec.path.find('/', colon) == std::string::npos) {
        std::string prefix = spec.path.substr(colon + 1);
        STRIDE_CHECK(is_c_name(prefix), "reward.fn: plugin symbol prefix '" + prefix + "' is not a C name");
        spec.prefix = prefix;
        spec.path.resize(colon);
    }
    STRIDE_CHECK(!spec.path.empty(), "reward.fn: plugin: needs a library path (plugin:path/to/lib.so)");
    // dlopen("lib.so") would search the library path; the user means the file next to them.
    if (spec.path.find('/') == std::string::npos) spec.path = "./" + spec.path;
    return spec;
}

PluginPool::PluginPool(PluginSpec spec, PluginOptions opt) : spec_(std::move(spec)), opt_(std::move(opt)) {
    std::string where = "reward.fn: " + opt_.kind + " '" + spec_.path + "'";
    STRIDE_CHECK(access(spec_.path.c_str(), R_OK) == 0, where + ": " + std::strerror(errno));
    if (opt_.workers <= 0)
        opt_.workers = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
    if (opt_.command.empty() && opt_.worker_exe.empty()) {
        const char* env = std::getenv("STRIDE_REWARD_WORKER");
        opt_.worker_exe = env && *env ? env : self_exe();
        // Exec'ing some other program (a test binary, an embedding host) with `reward worker`
        // arguments would run that program instead: say what to set rather than guess.
        STRIDE_CHECK((env && *env) || basename_of(opt_.worker_exe).rfind("stride", 0) == 0,
                     where + ": this process is not the stride binary; set STRIDE_REWARD_WORKER to it");
    }
    Worker first = spawn();  // throws the worker's reason: dlopen, symbols, ABI, init
    idle_.push_back(first);
    live_ = 1;
    stats_.spawns = 1;
}

PluginPool::~PluginPool() {
    // Closing the socket lets an idle worker call <prefix>_free and exit on its own.
    for (Worker& w : idle_) retire(w, false, nullptr);
}

PluginPool::Worker PluginPool::spawn() {
    std::string where = "reward.fn: " + opt_.kind + " '" + spec_.path + "'";
    // Everything the child needs is built before fork: between fork and exec a child of a
    // threaded process may only make async-signal-safe calls.
    std::vector<std::string> args = {opt_.worker_exe,
                                     "reward",
                                     "worker",
                                     "--fd",
                                     "3",
                                     "--plugin",
                                     spec_.path,
                                     "--prefix",
                                     spec_.prefix,
                                     "--memory-mb",
                                     std::to_string(opt_.memory_mb),
                                     "--config",
                                     opt_.config_json};
    if (!opt_.command.empty()) args = opt_.command;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // One BLAS/OpenMP thread per worker: the pool is the parallelism, and threads would eat RLIMIT_AS.
    std::vector<std::string> env = {"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1"};
    env.insert(env.end(), opt_.extra_env.begin(), opt_.extra_env.end());
    auto overridden = [&](const char* e) {
        for (size_t i = 0; i < env.size(); ++i) {
            size_t eq = env[i].find('=');
            if (eq == std::string::npos) continue;
            if (std::strncmp(e, env[i].c_str(), eq + 1) == 0) return true;
        }
        return false;
    };
    for (char** e = environ; *e; ++e)
        if (!overridden(*e)) env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);

    int sv[2];
    STRIDE_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
                 where + ": socketpair: " + std::strerror(errno));
    pid_t pid = fork();
    if (pid == 0) {
        if (sv[1] == 3)
            fcntl(3, F_SETFD, 0);  // keep it across exec
        else
            dup2(sv[1], 3);  // dup2 clears close-on-exec on the copy
        dup2(2, 1);          // plug-in printf must not corrupt the parent's stdout (stride reward score)
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execve(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    close(sv[1]);
    if (pid < 0) {
        close(sv[0]);
        throw Error(where + ": fork: " + std::strerror(errno));
    }
    Worker w{pid, sv[0]};
    std::string frame;
    RecvResult r = recv_frame(w.fd, frame, opt_.start_timeout_s);
    if (r != RecvResult::ok) {
        std::string why;
        retire(w, r == RecvResult::timeout, &why);
        std::string exe = opt_.command.empty() ? opt_.worker_exe + " reward worker" : opt_.command[0];
        throw Error(where + ": worker '" + exe + "' did not start (" +
                    (r == RecvResult::timeout ? "no answer within start timeout" : why) + ")");
    }
    Reader hello(frame);
    bool ok = hello.u8() == 1;
    std::string msg = hello.str();
    if (!ok || !hello.ok()) {
        retire(w, true, nullptr);
        throw Error(where + ": " + (hello.ok() ? msg : "malformed hello from worker"));
    }
    return w;
}

void PluginPool::retire(Worker w, bool kill_it, std::string* why) {
    close(w.fd);
    if (kill_it) kill(w.pid, SIGKILL);
    int status = 0;
    // A worker that closed its socket is exiting; give it a moment, then make sure.
    for (int i = 0; !kill_it && i < 200; ++i) {
        pid_t r = waitpid(w.pid, &status, WNOHANG);
        if (r == w.pid) {
            if (why) *why = describe_exit(status);
            return;
        }
        if (r < 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    kill(w.pid, SIGKILL);
    if (waitpid(w.pid, &status, 0) == w.pid && why) *why = describe_exit(status);
}

PluginPool::Worker PluginPool::checkout() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || live_ < opt_.workers; });
    if (!idle_.empty()) {
        Worker w = idle_.back();
        idle_.pop_back();
        return w;
    }
    ++live_;  // reserve the slot, then start the worker without holding the lock
    lock.unlock();
    try {
        Worker w = spawn();
        lock.lock();
        ++stats_.spawns;
        return w;
    } catch (...) {
        lock.lock();
        --live_;
        cv_.notify_one();
        throw;
    }
}

void PluginPool::checkin(Worker w) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(w);
    cv_.notify_one();
}

PluginScore PluginPool::score(const std::string& prompt, const std::string& response,
                              const std::string& label, const std::string& metadata_json) {
    const std::string name = basename_of(spec_.path);
    auto count = [&](int64_t PluginStats::*field) {
        std::lock_guard<std::mutex> lock(mu_);
        ++(stats_.*field);
    };
    count(&PluginStats::calls);
    Worker w;
    try {
        w = checkout();
    } catch (const std::exception& e) {
        count(&PluginStats::errors);
        return {0.0, RewardStatus::error, e.what()};
    }
    Writer req;
    req.str(prompt);
    req.str(response);
    req.str(label);
    req.str(metadata_json);
    std::string frame;
    RecvResult r =
        send_frame(w.fd, req.bytes()) ? recv_frame(w.fd, frame, opt_.timeout_s) : RecvResult::closed;
    if (r == RecvResult::ok) {
        Reader reply(frame);
        bool ok = reply.u8() == 1;
        double s = reply.f64();
        std::string detail = reply.str();
        if (reply.ok()) {
            checkin(w);
            if (!ok) {
                count(&PluginStats::errors);
                return {0.0, RewardStatus::error, name + ": " + (detail.empty() ? "score failed" : detail)};
            }
            if (!std::isfinite(s)) {
                count(&PluginStats::errors);
                return {0.0, RewardStatus::error, name + ": score is not finite"};
            }
            return {s, RewardStatus::ok, detail};
        }
        r = RecvResult::closed;  // a corrupt reply: treat the worker as broken
    }
    std::string why = "malformed reply";
    bool timed_out = r == RecvResult::timeout;
    retire(w, timed_out, &why);
    {
        std::lock_guard<std::mutex> lock(mu_);
        --live_;  // the next checkout starts a replacement
        ++(timed_out ? stats_.timeouts : stats_.crashes);
        if (!timed_out) ++stats_.errors;
        cv_.notify_one();
    }
    if (timed_out) {
        char limit[32];
        std::snprintf(limit, sizeof limit, "%g", opt_.timeout_s);
        return {0.0, RewardStatus::timeout, name + ": no result within " + limit + " s (worker killed)"};
    }
    return {0.0, RewardStatus::error, name + ": " + why};
}

PluginStats PluginPool::stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
}

RewardResult PluginPool::score(const RewardInput& in) {
    const std::string meta = std::string("{\"response_tokens\":") + std::to_string(in.response_tokens) +
                             ",\"truncated\":" + (in.truncated ? "true" : "false") + "}";
    PluginScore p = score(in.prompt, in.response, in.answer, meta);
    RewardResult r;
    r.status = p.status;
    r.detail = std::move(p.detail);
    r.score = p.status == RewardStatus::ok ? p.score : 0.0;
    r.correct = p.status == RewardStatus::ok && p.score >= 1.0;
    return r;
}

}  // namespace stride
