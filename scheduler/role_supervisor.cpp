// scheduler/role_supervisor.cpp: see role_supervisor.h.
#include "scheduler/role_supervisor.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "common/base/error.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

pid_t start_child(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    STRIDE_CHECK(pid >= 0, "supervisor: fork failed");
    if (pid == 0) {  // only async-signal-safe calls until exec
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(126);
        execv(args[0], args.data());
        _exit(127);
    }
    return pid;
}

std::string describe(int status) {
    if (WIFSIGNALED(status))
        return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return fmt::format("exit code {}", WEXITSTATUS(status));
}

int exit_code(int status) {
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

// Waits for `pid`, passing *stop on as SIGTERM once.
int wait_child(pid_t pid, const std::atomic<bool>& stop) {
    bool passed_on = false;
    for (;;) {
        int status = 0;
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return 1 << 8;  // not ours any more: count it as a failure
        if (stop && !passed_on) {
            kill(pid, SIGTERM);
            passed_on = true;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void sleep_unless(const std::atomic<bool>& stop, double seconds) {
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (!stop && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::string self_exe() {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    STRIDE_CHECK(n > 0, "supervisor: cannot find the stride executable (/proc/self/exe)");
    return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

int supervise(const std::string& name, const std::vector<std::string>& argv, const RestartPolicy& policy,
              const std::atomic<bool>& stop) {
    double backoff = policy.backoff_s;
    std::vector<std::string> args = argv;
    for (int restarts = 0;; ++restarts) {
        if (restarts == 1) args.insert(args.end(), policy.restart_args.begin(), policy.restart_args.end());
        setenv("STRIDE_RESTARTS", std::to_string(restarts).c_str(), 1);  // the child reports it
        const pid_t pid = start_child(args);
        std::printf("%s: pid %d\n", name.c_str(), pid);
        std::fflush(stdout);
        const int status = wait_child(pid, stop);
        if (stop || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) return exit_code(status);
        if (restarts >= policy.max_restarts) {
            std::fprintf(stderr, "%s: ended with %s; no restarts left (%s = %d)\n", name.c_str(),
                         describe(status).c_str(), policy.key.c_str(), policy.max_restarts);
            return exit_code(status);
        }
        std::printf("%s: restart %d of %d in %.1f s after %s\n", name.c_str(), restarts + 1,
                    policy.max_restarts, backoff, describe(status).c_str());
        std::fflush(stdout);
        sleep_unless(stop, backoff);
        if (stop) return exit_code(status);
        backoff = std::min(backoff * 2, policy.backoff_max_s);
    }
}

std::optional<int> supervise_role_if_configured(const JobConfig& cfg, const std::string& role,
                                                const std::string& scheduler, int argc, char** argv,
                                                const std::atomic<bool>& stop) {
    RestartPolicy policy{"recovery." + role + "_restarts",
                         0,
                         {},
                         cfg.recovery.restart_backoff_s,
                         cfg.recovery.restart_backoff_max_s};
    if (role == "rollout") policy.max_restarts = cfg.recovery.rollout_restarts;
    if (role == "buffer")
        policy.max_restarts = cfg.recovery.buffer_restarts, policy.restart_args = {"--restarted"};
    if (role == "trainer")
        policy.max_restarts = cfg.recovery.trainer_restarts, policy.restart_args = {"--restarted"};
    if (scheduler.empty() || policy.max_restarts == 0) return std::nullopt;
    if (const char* s = std::getenv("STRIDE_SUPERVISED"); s && *s) return std::nullopt;
    // Every generation of the role registers as the same instance: the registry takes a restart for
    // the same role, not for a duplicate.
    std::random_device rd;
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    setenv("STRIDE_INSTANCE", fmt::format("{}:{}:{:08x}", host, getpid(), rd()).c_str(), 1);
    setenv("STRIDE_SUPERVISED", "1", 1);
    std::vector<std::string> child = {self_exe(), "role"};
    for (int i = 0; i < argc; ++i) child.emplace_back(argv[i]);
    std::string name = role;
    for (int i = 0; role == "rollout" && i + 1 < argc; ++i)
        if (std::string(argv[i]) == "--worker") name = "rollout-" + std::string(argv[i + 1]);
    return supervise(name, child, policy, stop);
}

}  // namespace stride
