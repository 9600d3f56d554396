// The sandbox's syscall allow-list (see sandbox_seccomp.h). The tables were derived by tracing
// (`strace -f -c`) Debian's python3 running the code_exec harness and ordinary test programs: the
// standard library's math, text, containers, json, sqlite3, time, random, files in the work dir,
// threads with big stacks, ThreadPoolExecutor, fork, subprocess, asyncio, multiprocessing, mmap,
// ctypes, signals and timers. libseccomp maps each name to its number on the build's architecture
// (x86_64 or aarch64) and checks the architecture in the filter: calls of another ABI (i386 through
// int 0x80, x32) are killed.
#include "reward/sandbox/sandbox_seccomp.h"

#include <errno.h>
#include <linux/prctl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace stride {

namespace {

// Allowed with any arguments, on both architectures. Paths reach only the sandbox's own root (mount
// namespace), signals and waits only its own processes (pid namespace).
const char* const kAllowed[] = {
    // process and thread life (clone, kill: by argument, below)
    "exit", "exit_group", "execve", "execveat", "wait4", "waitid", "set_tid_address", "set_robust_list",
    "get_robust_list", "rseq", "futex", "gettid", "getpid", "getppid", "getpgid", "setpgid", "getsid",
    "setsid", "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "sched_rr_get_interval", "getpriority", "setpriority",
    "getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "sysinfo", "uname", "umask", "getcpu",
    // ids, read only
    "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    // signals and timers
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait", "rt_sigsuspend",
    "sigaltstack", "tgkill", "tkill", "setitimer", "getitimer", "restart_syscall", "signalfd4",
    "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun", "timer_delete", "timerfd_create",
    "timerfd_settime", "timerfd_gettime",
    // memory (PROT_EXEC included: the loader maps libraries; RLIMIT_AS bounds the total)
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "msync", "mincore", "membarrier",
    // clocks, read only
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday",
    // open files
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
    "lseek", "close", "close_range", "dup", "dup3", "fcntl", "flock", "pipe2", "sendfile", "splice", "tee",
    "copy_file_range", "fadvise64", "fsync", "fdatasync", "ftruncate", "fallocate", "fstat", "fstatfs",
    "fchmod", "fchown", "fchdir", "getdents64",
    // paths
    "openat", "newfstatat", "statx", "statfs", "faccessat", "faccessat2", "readlinkat", "getcwd", "chdir",
    "mkdirat", "unlinkat", "renameat", "renameat2", "linkat", "symlinkat", "fchmodat", "fchownat", "truncate",
    "utimensat", "mknodat", "getxattr", "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "inotify_init1",
    "inotify_add_watch", "inotify_rm_watch",
    // waiting on descriptors
    "ppoll", "pselect6", "epoll_create1", "epoll_ctl", "epoll_pwait", "epoll_pwait2", "eventfd2",
    // sockets made by socket/socketpair, which allow only AF_UNIX (below)
    "connect", "bind", "listen", "accept", "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg",
    "recvmmsg", "shutdown", "getsockname", "getpeername", "setsockopt", "getsockopt",
    // randomness
    "getrandom"};

// x86_64 keeps the older forms that aarch64 replaced by the *at, p* and clone calls above; libc and
// Python still use them there. arch_prctl sets the thread pointer (TLS) and affects only the caller.
const char* const kAllowedX86_64[] = {
    "open",         "creat",      "stat",    "lstat",     "access",       "readlink", "mkdir",  "rmdir",
    "unlink",       "rename",     "link",    "symlink",   "chmod",        "chown",    "lchown", "utime",
    "utimes",       "futimesat",  "mknod",   "getdents",  "pipe",         "dup2",     "poll",   "select",
    "epoll_create", "epoll_wait", "eventfd", "signalfd",  "inotify_init", "fork",     "vfork",  "pause",
    "alarm",        "time",       "getpgrp", "arch_prctl"};

// Refused gracefully (ENOSYS): libraries try these and fall back.
const char* const kNotImplemented[] = {
    // clone3 passes its flags in memory a filter cannot read, so namespace flags could not be refused:
    // ENOSYS makes libc use clone, whose flags are checked below.
    "clone3",
    // io_uring operations bypass the filter.
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    // Not needed; libffi falls back from memfd_create, Python from pidfds.
    "memfd_create", "pidfd_open", "pidfd_send_signal"};

// Never in the tables above: what reaches outside the sandbox or attacks the kernel (killed by the
// default action), and the calls allowed only with checked arguments (an unconditional entry would
// override their checks). build() refuses a table that lists one.
const char* const kNever[] = {
    // checked arguments
    "clone", "socket", "socketpair", "ioctl", "prctl", "personality", "kill",
    // inspecting or steering other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    // the file system tree and namespaces
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "open_by_handle_at", "name_to_handle_at",
    // kernel state that namespaces do not cover
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "syslog", "fanotify_init", "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "seccomp",
    // ids (the sandbox's uid has nothing to switch to)
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups"};

// Namespace flags of clone: fork and threads yes, new namespaces no (they would reopen what the
// sandbox closed).
constexpr uint64_t kNamespaceFlags =
    CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;

// ioctl requests of a terminal check (isatty, the window size) and of file descriptor flags; the
// kernel reads the request as 32 bits, so only those are compared. Others are killed (TIOCSTI too).
constexpr uint64_t kIoctls[] = {TCGETS, TIOCGWINSZ, TIOCGPGRP, FIONREAD, FIONBIO, FIOCLEX, FIONCLEX};

// prctl options that affect only the caller. PR_SET_VMA names anonymous memory (glibc's malloc).
constexpr uint64_t kPrctls[] = {PR_SET_PDEATHSIG,    PR_GET_PDEATHSIG, PR_GET_DUMPABLE,   PR_SET_NAME,
                                PR_GET_NAME,         PR_CAPBSET_READ,  PR_GET_TIMERSLACK, PR_SET_NO_NEW_PRIVS,
                                PR_GET_NO_NEW_PRIVS, 0x53564d41 /* PR_SET_VMA */};

constexpr uint64_t kLow32 = 0xffffffffu;

// Calls newer than the tables (Linux 5.18 on: fchmodat2, cachestat, map_shadow_stack, futex_wait, ...)
// fail with ENOSYS rather than kill, as on an older kernel: a newer libc probes them and falls back.
// Their numbers are the same on every architecture since Linux 5.1 (pidfd_send_signal, 424).
constexpr int kFirstNewerCall = 451, kLastNewerCall = 600;

bool listed(std::span<const char* const> names, const char* name) {
    return std::any_of(names.begin(), names.end(), [&](const char* n) { return std::strcmp(n, name) == 0; });
}

// Names this libseccomp does not know are skipped (newer calls, on an older library); names the
// architecture lacks resolve to a negative pseudo number, which libseccomp skips itself.
int add_named(scmp_filter_ctx ctx, std::span<const char* const> names, uint32_t action, std::string* why) {
    for (const char* name : names) {
        if (listed(kNever, name)) {
            *why = std::string(name) + " may not be allowed without argument checks";
            return -EINVAL;
        }
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) continue;
        if (int rc = seccomp_rule_add(ctx, action, nr, 0)) {
            *why = std::string(name) + ": " + std::strerror(-rc);
            return rc;
        }
    }
    return 0;
}

bool in_tables(const char* name) {
    return listed(kAllowed, name) || listed(kAllowedX86_64, name) || listed(kNotImplemented, name) ||
           listed(kNever, name);
}

int add_newer_calls(scmp_filter_ctx ctx) {
    for (int nr = kFirstNewerCall; nr <= kLastNewerCall; ++nr) {
        // A newer libseccomp may know the call by name: then the tables decide.
        char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        bool decided = name && in_tables(name);
        std::free(name);
        if (decided) continue;
        if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0)) return rc;
    }
    return 0;
}

int allow_if_a(scmp_filter_ctx ctx, int nr, unsigned arg, uint64_t mask, uint64_t value) {
    scmp_arg_cmp cmp = {arg, SCMP_CMP_MASKED_EQ, mask, value};
    return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
}

int add_argument_rules(scmp_filter_ctx ctx, bool in_namespaces) {
    int rc = allow_if_a(ctx, SCMP_SYS(clone), 0, kNamespaceFlags, 0);
    // No network: no socket family but AF_UNIX, and, without a network and mount namespace, where a
    // local socket could reach the host's services (abstract names, /run/*.sock), only unnamed pairs.
    if (!rc) rc = allow_if_a(ctx, SCMP_SYS(socketpair), 0, kLow32, AF_UNIX);
    if (!rc && in_namespaces) rc = allow_if_a(ctx, SCMP_SYS(socket), 0, kLow32, AF_UNIX);
    for (uint64_t req : kIoctls)
        if (!rc) rc = allow_if_a(ctx, SCMP_SYS(ioctl), 1, kLow32, req);
    for (uint64_t option : kPrctls)
        if (!rc) rc = allow_if_a(ctx, SCMP_SYS(prctl), 0, kLow32, option);
    // Only the query (0xffffffff); a new personality (no address randomisation, ...) is refused.
    if (!rc) rc = allow_if_a(ctx, SCMP_SYS(personality), 0, kLow32, 0xffffffffu);
    if (in_namespaces) {
        if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 0);
    } else {
        // kill(-1) would reach every process of the sandbox's uid (Stride's own when it is not root).
        // libseccomp has no "not equal" on 32 bits: a pid is allowed when any of its low 32 bits is
        // clear, which only -1 fails.
        for (unsigned bit = 0; bit < 32 && !rc; ++bit)
            rc = allow_if_a(ctx, SCMP_SYS(kill), 0, uint64_t{1} << bit, 0);
    }
    return rc;
}

std::vector<sock_filter> export_program(scmp_filter_ctx ctx, std::string* why) {
    std::vector<sock_filter> prog;
    // libseccomp 2.5 exports only to a file descriptor.
    int fd = memfd_create("stride-seccomp", MFD_CLOEXEC);
    int rc = 0;
    if (fd < 0) {
        *why = std::string("memfd_create: ") + std::strerror(errno);
    } else if ((rc = seccomp_export_bpf(ctx, fd)) != 0) {
        *why = std::string("seccomp_export_bpf: ") + std::strerror(-rc);
    } else {
        off_t size = lseek(fd, 0, SEEK_END);
        prog.resize(static_cast<size_t>(std::max<off_t>(size, 0)) / sizeof(sock_filter));
        size_t bytes = prog.size() * sizeof(sock_filter);
        if (size <= 0 || pread(fd, prog.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
            *why = "seccomp filter: short read";
            prog.clear();
        }
    }
    if (fd >= 0) close(fd);
    return prog;
}

std::vector<sock_filter> build(bool in_namespaces, std::string* why) {
    // Default deny: what no rule allows kills the whole process, which the code_exec reward reports as
    // a forbidden system call. A call of a foreign ABI is killed the same way.
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx) {
        *why = "seccomp_init failed";
        return {};
    }
    std::vector<sock_filter> prog;
    int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    // A binary tree of syscall numbers rather than a list: every call of the program walks the filter.
    // Older libseccomp lacks the attribute; the list it builds instead is as correct, only longer.
    if (!rc) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (!rc) rc = add_named(ctx, kAllowed, SCMP_ACT_ALLOW, why);
    if (!rc) rc = add_named(ctx, kAllowedX86_64, SCMP_ACT_ALLOW, why);
    if (!rc) rc = add_named(ctx, kNotImplemented, SCMP_ACT_ERRNO(ENOSYS), why);
    if (!rc && (rc = add_argument_rules(ctx, in_namespaces)) != 0)
        *why = std::string("seccomp argument rule: ") + std::strerror(-rc);
    if (!rc && (rc = add_newer_calls(ctx)) != 0)
        *why = std::string("seccomp rule for newer calls: ") + std::strerror(-rc);
    if (!rc) prog = export_program(ctx, why);
    if (rc && why->empty()) *why = std::string("seccomp: ") + std::strerror(-rc);
    seccomp_release(ctx);
    return prog;
}

}  // namespace

const std::vector<sock_filter>& sandbox_seccomp_program(bool in_namespaces, std::string* why) {
    struct Built {
        std::once_flag once;
        std::vector<sock_filter> prog;
        std::string error;
    };
    static Built built[2];
    Built& b = built[in_namespaces];
    std::call_once(b.once, [&] { b.prog = build(in_namespaces, &b.error); });
    if (why) *why = b.error;
    return b.prog;
}

SandboxSyscallTables sandbox_syscall_tables() {
    return {kAllowed, kAllowedX86_64, kNotImplemented, kNever};
}

}  // namespace stride
