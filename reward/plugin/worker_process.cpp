#include "reward/plugin/worker_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

#include "common/base/error.h"

extern char** environ;

namespace stride {

namespace {

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
#else
    (void)pid;
    return -1;
#endif
}

}  // namespace

std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
    std::vector<std::string> env = extra;
    auto overridden = [&](const char* e) {
        for (const std::string& x : extra) {
            size_t eq = x.find('=');
            if (eq != std::string::npos && std::strncmp(e, x.c_str(), eq + 1) == 0) return true;
        }
        return false;
    };
    for (char** e = environ; *e; ++e)
        if (!overridden(*e)) env.emplace_back(*e);
    return env;
}

ChildProcess start_child(const std::vector<std::string>& argv_in, const std::vector<std::string>& env_in) {
    STRIDE_CHECK(!argv_in.empty(), "start_child: empty command");
    // Everything the child needs is built before fork: between fork and exec a child of a threaded
    // process may only make async-signal-safe calls.
    std::vector<std::string> args = argv_in, env = env_in;
    std::vector<char*> argv, envp;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        // Die with the thread that started us (the pool's dispatcher); if it is already gone, the
        // signal was missed, so leave now.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        dup2(2, 1);
#ifdef SYS_close_range
        // Whatever else we hold (sockets, the files of a buffer) stays out of the worker. Best effort:
        // kernels before 5.11 lack the call, and the descriptors are then merely inherited.
        syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC);
#endif
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execve(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    STRIDE_CHECK(pid > 0, std::string("fork: ") + std::strerror(errno));
    return ChildProcess{pid, open_pidfd(pid)};
}

bool child_exited(const ChildProcess& c) {
    if (c.pidfd >= 0) {
        pollfd p{c.pidfd, POLLIN, 0};
        return poll(&p, 1, 0) > 0;
    }
    siginfo_t info{};
    // WNOWAIT: look without reaping, so end_child still gets the status.
    if (waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return true;
    return info.si_pid == c.pid;
}

std::string end_child(ChildProcess& c, bool kill_it, double grace_s) {
    if (c.pid <= 0) return "worker not started";
    if (!kill_it) {
        auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
        while (!child_exited(c) && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (kill_it || !child_exited(c)) kill(c.pid, SIGKILL);
    int status = 0;
    pid_t r;
    do {
        r = waitpid(c.pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    if (c.pidfd >= 0) close(c.pidfd);
    c = ChildProcess{};
    return r > 0 ? describe_exit(status) : "worker ended (not our child)";
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "worker exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        return "worker killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
    }
    return "worker ended (wait status " + std::to_string(status) + ")";
}

std::string self_exe_path() {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "/proc/self/exe";
    return std::string(buf, static_cast<size_t>(n));
}

}  // namespace stride
