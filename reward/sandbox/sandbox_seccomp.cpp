#include "reward/sandbox/sandbox_seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

namespace stride {

namespace {

// Calls that reach outside the sandbox or attack the kernel: the process is killed (SIGSYS), which
// the code_exec reward reports as a violation. Names the kernel lacks on this architecture are skipped.
const char* const kKilled[] = {
    // inspecting or steering other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    // the file system tree and namespaces
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "open_by_handle_at", "name_to_handle_at",
    // kernel state that namespaces do not cover
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
    "quotactl", "quotactl_fd", "syslog", "fanotify_init", "iopl", "ioperm", "uselib", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex"};

// Calls some libraries try and fall back from: refused without killing.
const char* const kNotImplemented[] = {
    // clone3 passes its flags in memory a filter cannot read, so namespace flags could not be refused:
    // ENOSYS makes libc use clone, whose flags are checked below.
    "clone3",
    // io_uring operations bypass the filter.
    "io_uring_setup", "io_uring_enter", "io_uring_register"};

constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWUSER, CLONE_NEWPID,   CLONE_NEWNET,
                                        CLONE_NEWIPC, CLONE_NEWUTS,  CLONE_NEWCGROUP};

int add_rules(scmp_filter_ctx ctx, bool local_sockets) {
    auto by_name = [&](const char* name, uint32_t action) {
        int nr = seccomp_syscall_resolve_name(name);
        return nr == __NR_SCMP_ERROR ? 0 : seccomp_rule_add(ctx, action, nr, 0);
    };
    for (const char* name : kKilled)
        if (int rc = by_name(name, SCMP_ACT_KILL_PROCESS)) return rc;
    for (const char* name : kNotImplemented)
        if (int rc = by_name(name, SCMP_ACT_ERRNO(ENOSYS))) return rc;
    // No network: no socket family but local (AF_UNIX) ones. Without a network namespace a local socket
    // could still reach the host's services (abstract names, /run/*.sock): then only unnamed pairs.
    if (int rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socketpair), 1,
                                  SCMP_A0(SCMP_CMP_NE, AF_UNIX)))
        return rc;
    if (int rc = local_sockets ? seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socket), 1,
                                                  SCMP_A0(SCMP_CMP_NE, AF_UNIX))
                               : seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socket), 0))
        return rc;
    // fork and threads yes, new namespaces no (they would reopen what the sandbox closed).
    for (uint64_t flag : kNamespaceFlags)
        if (int rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1,
                                      SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag)))
            return rc;
    // Typing into a terminal the program should not have.
    for (uint64_t req : {uint64_t{TIOCSTI}, uint64_t{TIOCLINUX}})
        if (int rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(ioctl), 1,
                                      SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, req)))
            return rc;
    return 0;
}

std::vector<sock_filter> build(bool local_sockets, std::string* why) {
    // Calls of other ABIs (i386 int 0x80 on x86_64) fall outside the native rules: they are killed,
    // libseccomp's default for a foreign architecture.
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        *why = "seccomp_init failed";
        return {};
    }
    std::vector<sock_filter> prog;
    int rc = add_rules(ctx, local_sockets);
    // libseccomp 2.5 exports only to a file descriptor.
    int fd = rc == 0 ? memfd_create("stride-seccomp", MFD_CLOEXEC) : -1;
    if (rc != 0) {
        *why = std::string("seccomp rule: ") + std::strerror(-rc);
    } else if (fd < 0) {
        *why = std::string("memfd_create: ") + std::strerror(errno);
    } else if ((rc = seccomp_export_bpf(ctx, fd)) != 0) {
        *why = std::string("seccomp_export_bpf: ") + std::strerror(-rc);
    } else {
        off_t size = lseek(fd, 0, SEEK_END);
        prog.resize(static_cast<size_t>(size) / sizeof(sock_filter));
        size_t bytes = prog.size() * sizeof(sock_filter);
        if (size <= 0 || pread(fd, prog.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
            *why = "seccomp filter: short read";
            prog.clear();
        }
    }
    if (fd >= 0) close(fd);
    seccomp_release(ctx);
    return prog;
}

}  // namespace

const std::vector<sock_filter>& sandbox_seccomp_program(bool local_sockets, std::string* why) {
    struct Built {
        std::once_flag once;
        std::vector<sock_filter> prog;
        std::string error;
    };
    static Built built[2];
    Built& b = built[local_sockets];
    std::call_once(b.once, [&] { b.prog = build(local_sockets, &b.error); });
    if (why) *why = b.error;
    return b.prog;
}

}  // namespace stride
