// scheduler/process_roles.cpp: see process_roles.h.
#include "scheduler/process_roles.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <tuple>

#include "common/base/error.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

std::string self_exe() {
    char self[4096];
    const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    STRIDE_CHECK(n > 0, "launcher: cannot find the stride executable (/proc/self/exe)");
    return std::string(self, static_cast<size_t>(n));
}

std::string describe(int status) {
    if (WIFSIGNALED(status))
        return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return fmt::format("exit code {}", WEXITSTATUS(status));
}

void sleep_unless(const std::atomic<bool>& stop, double seconds) {
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

ProcessRoles::ProcessRoles(const JobConfig& cfg, std::string config_path, const PromptDispatcher& dispatcher,
                           const std::atomic<bool>& stop)
    : cfg_(cfg), config_path_(std::move(config_path)), dispatcher_(dispatcher), stop_(stop) {
    roles_.push_back({"buffer", 0});
    roles_.push_back({"trainer", 0});
    for (int i = 0; i < cfg.rollout.workers; ++i) roles_.push_back({"rollout", i});
}

void ProcessRoles::spawn(RoleProcess& r, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {
        self_exe(), "role", r.role, "--config", config_path_, "--worker", std::to_string(r.worker)};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    STRIDE_CHECK(pid >= 0, "launcher: fork failed");
    if (pid == 0) {
        // A role never outlives its launcher: SIGTERM (a clean stop: the trainer checkpoints) when the
        // launcher dies, even by kill -9. The death signal is armed from here on, so a launcher that
        // died between fork and prctl is caught by the getppid check (the child was re-parented).
        // Only async-signal-safe calls between fork and exec. PR_SET_PDEATHSIG follows the thread that
        // forked: the launcher's main thread, which lives as long as the job.
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(126);
        execv(argv[0], argv.data());
        _exit(127);
    }
    r.pid = r.last_pid = pid;
    r.status = -1;
    std::printf("role %s: pid %d\n", r.name().c_str(), pid);
    std::fflush(stdout);
}

void ProcessRoles::start_all() {
    for (RoleProcess& r : roles_) spawn(r);
}

RoleProcess* ProcessRoles::find(pid_t pid) {
    for (RoleProcess& r : roles_)
        if (r.pid == pid) return &r;
    return nullptr;
}

int ProcessRoles::max_restarts(const std::string& role) const {
    if (role == "buffer") return cfg_.recovery.buffer_restarts;
    if (role == "trainer") return cfg_.recovery.trainer_restarts;
    return cfg_.recovery.rollout_restarts;
}

int ProcessRoles::restarts_of(const std::string& role) const {
    int n = 0;
    for (const RoleProcess& r : roles_)
        if (r.role == role) n += r.restarts;
    return n;
}

void ProcessRoles::restart(RoleProcess& r, const std::vector<std::string>& extra) {
    ++r.restarts;
    const double backoff = std::min(cfg_.recovery.restart_backoff_max_s,
                                    cfg_.recovery.restart_backoff_s * std::pow(2.0, r.restarts - 1));
    std::printf("role %s: restart %d of %d in %.1f s after %s\n", r.name().c_str(), r.restarts,
                max_restarts(r.role), backoff, describe(r.status).c_str());
    std::fflush(stdout);
    sleep_unless(stop_, backoff);
    if (!stop_) spawn(r, extra);
}

void ProcessRoles::reap(RoleProcess& r, double deadline_s) {
    const auto until = Clock::now() + std::chrono::duration<double>(deadline_s);
    bool killed = false;
    while (r.pid > 0) {
        int status = 0;
        const pid_t got = waitpid(r.pid, &status, WNOHANG);
        if (got == r.pid || got < 0) {
            r.status = got < 0 ? 1 << 8 : status;
            r.pid = -1;
            return;
        }
        if (!killed && Clock::now() > until) {
            spdlog::warn("role {} (pid {}) did not stop within {:.0f} s: SIGKILL", r.name(), r.pid,
                         deadline_s);
            kill(r.pid, SIGKILL);
            killed = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// The rollout workers stop first (saving what they have in flight), the trainer starts from its last
// checkpoint, and once it has told the buffer and the dispatcher where it resumed, the workers start
// again.
void ProcessRoles::restart_trainer() {
    for (RoleProcess& r : roles_)
        if (r.role == "rollout" && r.pid > 0) kill(r.pid, SIGTERM);
    for (RoleProcess& r : roles_)
        if (r.role == "rollout") reap(r, cfg_.reward.timeout_s + 30.0);
    const int64_t resumes = dispatcher_.trainer_resumes();
    restart(trainer(), {"--restarted", "resume=auto"});
    if (!wait_for_resume(resumes)) return;  // it died again, or we stop: the main loop goes on
    for (RoleProcess& r : roles_)
        if (r.role == "rollout") spawn(r);
}

// Until the new trainer told the dispatcher where it resumed. A buffer that dies meanwhile is
// restarted here (the trainer's resume waits on it); any other end is left to the main loop.
bool ProcessRoles::wait_for_resume(int64_t resumes_before) {
    const auto until = Clock::now() + std::chrono::duration<double>(cfg_.network.lost_after_s + 600.0);
    while (!stop_ && trainer().pid > 0 && dispatcher_.trainer_resumes() == resumes_before) {
        if (Clock::now() > until) {
            spdlog::warn(
                "the restarted trainer has not resumed within {:.0f} s; starting the rollout workers",
                cfg_.network.lost_after_s + 600.0);
            return true;
        }
        int status = 0;
        const pid_t pid = waitpid(-1, &status, WNOHANG);
        RoleProcess* r = pid > 0 ? find(pid) : nullptr;
        if (!r) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        if (r->role == "buffer" && r->restarts < max_restarts("buffer")) {
            r->pid = -1;
            r->status = status;
            spdlog::error("role {} (pid {}) died: {}; restarting it", r->name(), pid, describe(status));
            restart(*r, {"--restarted"});
            continue;
        }
        reaped_elsewhere_.push_back({pid, status});
        if (r == &trainer()) return false;
    }
    return !stop_ && trainer().pid > 0;
}

int ProcessRoles::run_until_trainer_ends() {
    for (;;) {
        if (trainer().pid <= 0 && reaped_elsewhere_.empty()) return trainer().status;  // stopped meanwhile
        if (!stop_sent_ && !dispatcher_.failure().empty()) {  // the trainer's publisher went silent
            spdlog::error("stopping the job: {}", dispatcher_.failure());
            if (trainer().pid > 0) kill(trainer().pid, SIGTERM);
            stop_sent_ = true;
        }
        if (stop_ && !stop_sent_) {
            if (trainer().pid > 0) kill(trainer().pid, SIGTERM);  // it finishes its step and checkpoints
            stop_sent_ = true;
        }
        int status = 0;
        pid_t pid = 0;
        if (!reaped_elsewhere_.empty()) {
            std::tie(pid, status) = reaped_elsewhere_.back();
            reaped_elsewhere_.pop_back();
        } else {
            pid = waitpid(-1, &status, WNOHANG);
        }
        RoleProcess* r = pid > 0 ? find(pid) : nullptr;
        if (!r) {
            if (pid <= 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        r->pid = -1;
        r->status = status;
        const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        const bool may_restart = !stop_sent_ && r->restarts < max_restarts(r->role);
        if (r->role == "trainer") {
            if (clean || !may_restart) {
                r->ended_for_good = true;
                return status;
            }
            spdlog::error("role trainer (pid {}) died: {}; restarting it from its last checkpoint", pid,
                          describe(status));
            restart_trainer();
            continue;
        }
        if (may_restart && !clean) {
            spdlog::error("role {} (pid {}) died: {}; restarting it", r->name(), pid, describe(status));
            if (r->role == "buffer")
                restart(*r, {"--restarted"});
            else
                restart(*r);
            continue;
        }
        r->ended_for_good = true;
        spdlog::error("role {} (pid {}) exited early with {}", r->name(), pid, describe(status));
        if (!stop_sent_ && trainer().pid > 0) {  // a dead role stops the job; the trainer checkpoints
            kill(trainer().pid, SIGTERM);
            stop_sent_ = true;
        }
    }
}

void ProcessRoles::stop_all() {
    for (RoleProcess& r : roles_)
        if (r.pid > 0) kill(r.pid, SIGTERM);
    for (RoleProcess& r : roles_) reap(r, 60.0);
}

}  // namespace stride
