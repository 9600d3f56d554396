// The parent side of the sandbox: temp dir, pipes, clone, uid maps, output capture, time limit, reaping.
#include "reward/sandbox/sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "reward/sandbox/sandbox_child.h"
#include "reward/sandbox/sandbox_seccomp.h"

namespace stride {

namespace {

using Clock = std::chrono::steady_clock;

// The program's ids inside the user namespace: never 0, so it holds no capability there after exec.
constexpr uid_t kInsideId = 1000;
// Outside, when Stride runs as root: nobody/nogroup, never root, whose processes RLIMIT_NPROC exempts.
constexpr uid_t kNobody = 65534;
constexpr size_t kCloneStack = 256 * 1024;

std::string errno_text(const std::string& what, int err = errno) {
    return what + ": " + std::strerror(err);
}

struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    void reset() {
        if (fd >= 0) close(fd);
        fd = -1;
    }
};

bool make_pipe(Fd& r, Fd& w) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return false;
    r.fd = p[0];
    w.fd = p[1];
    return true;
}

// A socket pair rather than a pipe where the parent writes after clone: send(MSG_NOSIGNAL) to a child
// that died meanwhile fails with EPIPE instead of raising SIGPIPE, which would end Stride.
bool make_channel(Fd& child_end, Fd& parent_end) {
    int p[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) return false;
    child_end.fd = p[0];
    parent_end.fd = p[1];
    return true;
}

unsigned long readonly_flags(const std::string& host) {
    unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NODEV;
    // A flag the host mount has (noexec here) is locked in a user namespace: the remount must keep it.
    struct statvfs sv;
    if (statvfs(host.c_str(), &sv) == 0 && (sv.f_flag & ST_NOEXEC)) flags |= MS_NOEXEC;
    return flags;
}

// The new root, the same for every run: the system folders (read-only) that Python and its
// libraries live in, the loader cache, a few /dev nodes, an empty /tmp and the work dir.
const std::vector<ChildMount>& root_layout() {
    static const std::vector<ChildMount> layout = [] {
        std::vector<ChildMount> m;
        for (const char* top : {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
            std::string host = std::string("/") + top;
            struct stat st;
            if (lstat(host.c_str(), &st) != 0) continue;
            if (S_ISLNK(st.st_mode)) {  // merged /usr: bin -> usr/bin
                char buf[PATH_MAX];
                ssize_t n = readlink(host.c_str(), buf, sizeof buf);
                if (n > 0) m.push_back({ChildMount::symlink, top, std::string(buf, static_cast<size_t>(n))});
            } else if (S_ISDIR(st.st_mode)) {
                m.push_back({ChildMount::bind_dir, top, host, 0755, readonly_flags(host)});
            }
        }
        m.push_back({ChildMount::dir, "etc", "", 0755});
        if (access("/etc/ld.so.cache", R_OK) == 0)
            m.push_back({ChildMount::bind_file, "etc/ld.so.cache", "/etc/ld.so.cache", 0,
                         readonly_flags("/etc/ld.so.cache")});
        m.push_back({ChildMount::dir, "dev", "", 0755});
        for (const char* dev : {"null", "zero", "full", "random", "urandom"}) {
            std::string host = std::string("/dev/") + dev;
            if (access(host.c_str(), F_OK) == 0)
                m.push_back({ChildMount::bind_file, "dev/" + std::string(dev), host});
        }
        m.push_back({ChildMount::dir, "tmp", "", 01777});
        m.push_back({ChildMount::dir, "work", "", 0755});
        return m;
    }();
    return layout;
}

std::string make_temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/stride-sandbox-XXXXXX";
    if (!mkdtemp(tmpl.data())) return "";
    return tmpl;
}

// The program may leave read-only folders behind (isolation none): make each writable before emptying it.
bool remove_entry(int parent, const char* name, int depth) {
    if (unlinkat(parent, name, 0) == 0) return true;
    if (errno != EISDIR && errno != EPERM) return errno == ENOENT;
    if (depth > 256) return false;
    fchmodat(parent, name, 0700, 0);
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return false;
    DIR* dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return false;
    }
    bool ok = true;
    while (dirent* e = readdir(dir)) {
        if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
        ok = remove_entry(fd, e->d_name, depth + 1) && ok;
    }
    closedir(dir);
    return unlinkat(parent, name, AT_REMOVEDIR) == 0 && ok;
}

bool write_file(const std::string& path, const std::string& content) {
    Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    size_t done = 0;
    while (fd.fd >= 0 && done < content.size()) {
        ssize_t w = write(fd.fd, content.data() + done, content.size() - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        done += static_cast<size_t>(w);
    }
    return fd.fd >= 0;
}

bool write_proc(pid_t pid, const char* file, const std::string& data, std::string* error) {
    std::string path = "/proc/" + std::to_string(pid) + "/" + file;
    Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd.fd < 0 || write(fd.fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
        *error = errno_text("write " + path);
        return false;
    }
    return true;
}

// Tasks (threads included, as RLIMIT_NPROC counts them) that `uid` runs on the machine now.
rlim_t tasks_of(uid_t uid) {
    rlim_t n = 0;
    DIR* proc = opendir("/proc");
    if (!proc) return 0;
    while (dirent* e = readdir(proc)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        std::string dir = std::string("/proc/") + e->d_name;
        struct stat st;
        if (stat(dir.c_str(), &st) != 0 || st.st_uid != uid) continue;
        if (DIR* tasks = opendir((dir + "/task").c_str())) {
            while (dirent* t = readdir(tasks)) n += t->d_name[0] != '.';
            closedir(tasks);
        }
    }
    closedir(proc);
    return n;
}

// RLIMIT_CPU in whole seconds, 0 for none. By default a backstop for the wall clock: threads burning
// several cores would use up the CPU limit first.
rlim_t cpu_limit_s(const SandboxLimits& lim) {
    double cpu_s = lim.cpu_s > 0 ? lim.cpu_s : lim.wall_s;
    return cpu_s > 0 ? static_cast<rlim_t>(std::max(1.0, std::ceil(cpu_s))) : 0;
}

// pid 1 of its namespace ignores SIGXCPU (the kernel spares a namespace's init the signals whose
// default action would end it): the hard limit ends it with SIGKILL, which its CPU time explains.
bool used_its_cpu_time(const struct rusage& usage, const SandboxLimits& lim) {
    double used = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                  1e-6 * static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
    rlim_t limit = cpu_limit_s(lim);
    return limit > 0 && used >= static_cast<double>(limit);
}

// nproc_base: tasks the sandbox's uid already has outside the sandbox (isolation none: the limit is
// per uid, machine-wide), so that the program gets `processes` more.
std::vector<ChildLimit> rlimits(const SandboxLimits& lim, rlim_t nproc_base) {
    std::vector<ChildLimit> l;
    if (rlim_t cpu = cpu_limit_s(lim)) l.push_back({RLIMIT_CPU, cpu, cpu + 1});  // SIGXCPU, SIGKILL 1 s later
    if (lim.memory_mb > 0) {
        rlim_t as = static_cast<rlim_t>(lim.memory_mb) << 20;
        l.push_back({RLIMIT_AS, as, as});
    }
    rlim_t nproc = nproc_base + static_cast<rlim_t>(std::max(1, lim.processes));
    rlim_t fsize = static_cast<rlim_t>(std::max<int64_t>(0, lim.file_mb)) << 20;
    rlim_t nofile = static_cast<rlim_t>(std::max(8, lim.open_files));
    l.push_back({RLIMIT_NPROC, nproc, nproc});
    l.push_back({RLIMIT_FSIZE, fsize, fsize});
    l.push_back({RLIMIT_NOFILE, nofile, nofile});
    l.push_back({RLIMIT_CORE, 0, 0});
    return l;
}

// Reads what is there; false at EOF or error.
bool drain(int fd, std::string& into, size_t cap, bool* truncated) {
    char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
    if (n <= 0) return false;
    size_t keep = std::min(static_cast<size_t>(n), cap > into.size() ? cap - into.size() : 0);
    into.append(buf, keep);
    if (keep < static_cast<size_t>(n)) *truncated = true;
    return true;
}

const char* limit_of_signal(int sig) {
    switch (sig) {
        case SIGXCPU:
            return "cpu time";
        case SIGXFSZ:
            return "file size";
        case SIGSYS:
            return "syscall";
        default:
            return "";
    }
}

class Runner {
   public:
    Runner(const SandboxJob& job, const SandboxLimits& lim, SandboxIsolation iso)
        : job_(job), lim_(lim), ns_(iso == SandboxIsolation::namespaces) {}

    SandboxResult run() {
        auto start = Clock::now();
        res_.workdir = make_temp_dir();
        if (res_.workdir.empty()) {
            res_.error = errno_text("sandbox temp dir");
        } else {
            if (prepare()) launch();
            // In a mount namespace the files lived in the child's tmpfs; here is only the empty mount point.
            remove_entry(AT_FDCWD, res_.workdir.c_str(), 0);
        }
        res_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        return std::move(res_);
    }

   private:
    bool fail(const std::string& why) {
        res_.error = why;
        return false;
    }

    bool prepare() {
        for (const SandboxFile& f : job_.files)
            if (f.name.empty() || f.name.find('/') != std::string::npos || f.name[0] == '.')
                return fail("sandbox file name '" + f.name + "' must be a plain file name");
        if (job_.argv.empty() || job_.argv[0].empty() || job_.argv[0][0] != '/')
            return fail("sandbox command must start with an absolute path");
        const bool root = geteuid() == 0;
        plan_.namespaces = ns_;
        plan_.root = res_.workdir;
        // In its user namespace the sandbox's uid counts only the sandbox's own tasks.
        const uid_t runs_as = root ? kNobody : geteuid();
        plan_.limits = rlimits(lim_, ns_ ? 0 : tasks_of(runs_as));
        if (ns_) {
            plan_.tmpfs_opts =
                "size=" + std::to_string(std::max<int64_t>(1, lim_.disk_mb)) + "m,nr_inodes=4096,mode=0755";
            plan_.mounts = root_layout();
            plan_.workdir = "/work";
            plan_.uid = plan_.gid = kInsideId;
            plan_.clear_groups = root;  // setgroups is denied to an unprivileged parent's namespace
            for (const SandboxFile& f : job_.files) plan_.files.push_back({"work/" + f.name, &f.content});
        } else {
            plan_.workdir = res_.workdir;
            for (const SandboxFile& f : job_.files)
                if (!write_file(res_.workdir + "/" + f.name, f.content))
                    return fail(errno_text("sandbox file " + f.name));
            if (root) {  // never run model code as root: as nobody, with the work dir its own
                plan_.uid = plan_.gid = kNobody;
                plan_.clear_groups = true;
                if (chown(res_.workdir.c_str(), kNobody, kNobody) != 0)
                    return fail(errno_text("chown work dir"));
            }
        }
        args_ = job_.argv;
        env_ = job_.env;
        env_.push_back("HOME=" + plan_.workdir);
        env_.push_back(std::string("TMPDIR=") + (ns_ ? "/tmp" : plan_.workdir));
        for (auto& a : args_) argv_.push_back(a.data());
        argv_.push_back(nullptr);
        for (auto& e : env_) envp_.push_back(e.data());
        envp_.push_back(nullptr);
        plan_.argv = argv_.data();
        plan_.envp = envp_.data();
        if (lim_.syscall_filter) {
            std::string why;
            const std::vector<sock_filter>& prog = sandbox_seccomp_program(ns_, &why);
            if (prog.empty()) return fail("seccomp filter: " + why);
            filter_.len = static_cast<unsigned short>(prog.size());
            filter_.filter = const_cast<sock_filter*>(prog.data());
            plan_.filter = &filter_;
        }
        return true;
    }

    bool fill_stdin(Fd& w) {
        const std::string& data = job_.stdin_data;
        if (data.empty()) return true;
        // All of it goes in now, before the child exists: no writer blocking on a child that never reads.
        if (data.size() > 65536 && fcntl(w.fd, F_SETPIPE_SZ, static_cast<int>(data.size())) < 0)
            return fail("sandbox stdin: " + std::to_string(data.size()) + " bytes do not fit a pipe (" +
                        std::strerror(errno) + ")");
        return write(w.fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()) ||
               fail(errno_text("sandbox stdin"));
    }

    void launch() {
        Fd in_r, in_w, out_r, out_w, err_r, err_w, rep_r, rep_w, sync_r, sync_w;
        if (!make_pipe(in_r, in_w) || !make_pipe(out_r, out_w) || !make_pipe(err_r, err_w) ||
            !make_pipe(rep_r, rep_w) || (ns_ && !make_channel(sync_r, sync_w))) {
            fail(errno_text("pipe"));
            return;
        }
        if (!fill_stdin(in_w)) return;
        in_w.reset();
        plan_.stdin_fd = in_r.fd;
        plan_.stdout_fd = out_w.fd;
        plan_.stderr_fd = err_w.fd;
        plan_.error_fd = rep_w.fd;
        plan_.sync_fd = sync_r.fd;

        void* stack = mmap(nullptr, kCloneStack, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (stack == MAP_FAILED) {
            fail(errno_text("mmap clone stack"));
            return;
        }
        int flags = SIGCHLD;
        if (ns_)
            flags |= CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
        // No CLONE_VM: the child gets a copy-on-write snapshot, like fork, and the plan in it.
        pid_t pid = clone(sandbox_child_main, static_cast<char*>(stack) + kCloneStack, flags, &plan_);
        int clone_errno = errno;
        munmap(stack, kCloneStack);
        in_r.reset();
        out_w.reset();
        err_w.reset();
        rep_w.reset();
        sync_r.reset();
        if (pid < 0) {
            fail(
                errno_text(ns_ ? "clone with new user, mount, pid, network, ipc and uts namespaces" : "clone",
                           clone_errno));
            return;
        }
        if (ns_ && !map_ids(pid, sync_w)) {
            sync_w.reset();  // EOF: the child gives up
            kill(pid, SIGKILL);
            int status;
            waitpid(pid, &status, 0);
            return;
        }
        sync_w.reset();
        watch(pid, out_r, err_r, rep_r);
    }

    bool map_ids(pid_t pid, Fd& sync_w) {
        const bool root = geteuid() == 0;
        uid_t outside_uid = root ? kNobody : geteuid();
        gid_t outside_gid = root ? kNobody : getegid();
        std::string error;
        // An unprivileged writer may map only its own ids, and only once setgroups is denied.
        if ((!root && !write_proc(pid, "setgroups", "deny", &error)) ||
            !write_proc(pid, "uid_map",
                        std::to_string(kInsideId) + " " + std::to_string(outside_uid) + " 1\n", &error) ||
            !write_proc(pid, "gid_map",
                        std::to_string(kInsideId) + " " + std::to_string(outside_gid) + " 1\n", &error))
            return fail(error);
        char one = 1;
        return send(sync_w.fd, &one, 1, MSG_NOSIGNAL) == 1 || fail(errno_text("sandbox sync"));
    }

    void watch(pid_t pid, Fd& out, Fd& err, Fd& report) {
        Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
        std::string report_bytes;
        bool report_trunc = false;
        const auto deadline =
            Clock::now() + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(lim_.wall_s > 0 ? lim_.wall_s : 1e9));
        bool exited = false, reaped = false;
        int status = 0;
        struct rusage usage {};
        Clock::time_point grace_end{};
        auto on_exit = [&] {
            exited = true;
            // Isolation none: descendants that stayed in the group go too. While the child is an unreaped
            // zombie its pid, the group id, cannot be reused.
            if (!ns_) kill(-pid, SIGKILL);
            grace_end = Clock::now() + std::chrono::milliseconds(200);
        };
        for (;;) {
            auto now = Clock::now();
            bool open = out.fd >= 0 || err.fd >= 0 || report.fd >= 0;
            // Done once it has exited and its pipes are closed, or after a grace period for a straggler
            // outside the group that holds a pipe open.
            if (exited && (!open || now >= grace_end)) break;
            if (!exited && !res_.timed_out && now >= deadline) {
                res_.timed_out = true;
                kill(pid, SIGKILL);  // pid 1 of its namespace: every process in it dies with it
                if (!ns_) kill(-pid, SIGKILL);
            }
            auto until = exited ? grace_end : res_.timed_out ? now + std::chrono::seconds(1) : deadline;
            long wait_ms = static_cast<long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count() + 1);
            if (pidfd.fd < 0) wait_ms = std::min(wait_ms, 10L);  // no pidfd (Linux < 5.3): poll the child
            pollfd fds[4] = {{out.fd, POLLIN, 0},
                             {err.fd, POLLIN, 0},
                             {report.fd, POLLIN, 0},
                             {exited ? -1 : pidfd.fd, POLLIN, 0}};
            int n = poll(fds, 4, static_cast<int>(std::clamp(wait_ms, 0L, 60000L)));
            if (n < 0 && errno != EINTR) {
                kill(pid, SIGKILL);
                if (!ns_) kill(-pid, SIGKILL);
                break;
            }
            if (fds[0].revents && !drain(out.fd, res_.out, lim_.output_bytes, &res_.out_truncated))
                out.reset();
            if (fds[1].revents && !drain(err.fd, res_.err, lim_.output_bytes, &res_.err_truncated))
                err.reset();
            if (fds[2].revents && !drain(report.fd, report_bytes, 4096, &report_trunc)) report.reset();
            if (!exited && (fds[3].revents || pidfd.fd < 0)) {
                if (pidfd.fd >= 0) {
                    on_exit();
                } else if (wait4(pid, &status, WNOHANG, &usage) == pid) {
                    reaped = true;
                    on_exit();
                }
            }
        }
        if (!exited) on_exit();
        if (!reaped) wait4(pid, &status, 0, &usage);
        if (report_bytes.size() >= sizeof(int)) {
            int err_no;
            std::memcpy(&err_no, report_bytes.data(), sizeof err_no);
            fail("sandbox setup: " + errno_text(report_bytes.substr(sizeof err_no), err_no));
            return;
        }
        res_.started = true;
        if (WIFEXITED(status)) res_.exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) res_.signal = WTERMSIG(status);
        res_.limit = res_.timed_out ? "wall clock" : limit_of_signal(res_.signal);
        if (res_.limit.empty() && res_.signal == SIGKILL && used_its_cpu_time(usage, lim_))
            res_.limit = "cpu time";
    }

    const SandboxJob& job_;
    const SandboxLimits& lim_;
    const bool ns_;
    SandboxResult res_;
    ChildPlan plan_;
    std::vector<std::string> args_, env_;
    std::vector<char*> argv_, envp_;
    sock_fprog filter_{};
};

}  // namespace

SandboxResult run_sandboxed(const SandboxJob& job, const SandboxLimits& limits, SandboxIsolation isolation) {
    return Runner(job, limits, isolation).run();
}

std::string sandbox_unavailable_reason() {
    static std::once_flag once;
    static std::string reason;
    std::call_once(once, [] {
        SandboxJob job;
        job.argv = {access("/usr/bin/true", X_OK) == 0 ? "/usr/bin/true" : "/bin/true"};
        SandboxLimits lim;
        lim.wall_s = 10.0;
        SandboxResult r = run_sandboxed(job, lim, SandboxIsolation::namespaces);
        if (!r.started)
            reason = r.error;
        else if (r.exit_code != 0)
            reason =
                "a sandboxed " + job.argv[0] + " ended with " +
                (r.signal ? "signal " + std::to_string(r.signal) : "status " + std::to_string(r.exit_code)) +
                (r.err.empty() ? "" : ": " + r.err.substr(0, 200));
    });
    return reason;
}

}  // namespace stride
