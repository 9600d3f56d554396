// Only system calls from here on: see sandbox_child.h.
#include "reward/sandbox/sandbox_child.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace stride {

namespace {

[[noreturn]] void fail(int fd, const char* step) {
    int err = errno;
    char buf[256];
    std::memcpy(buf, &err, sizeof err);
    size_t n = std::strlen(step);
    if (n > sizeof buf - sizeof err) n = sizeof buf - sizeof err;
    std::memcpy(buf + sizeof err, step, n);
    ssize_t ignored = write(fd, buf, sizeof err + n);
    (void)ignored;
    _exit(127);
}

bool write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}

// The new root: a private tmpfs holding the bound system folders, /dev nodes, /tmp and the work dir.
void build_root(const ChildPlan& p, int err) {
    // Our mounts must not propagate back to the host's mount namespace.
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(err, "make / private");
    if (mount("tmpfs", p.root.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, p.tmpfs_opts.c_str()) != 0)
        fail(err, "mount tmpfs root");
    if (chdir(p.root.c_str()) != 0) fail(err, "chdir to new root");
    for (const ChildMount& m : p.mounts) {
        const char* path = m.path.c_str();
        switch (m.kind) {
            case ChildMount::dir:
                // chmod after mkdir: the umask would strip the sticky and write bits of /tmp.
                if (mkdir(path, 0700) != 0 || chmod(path, static_cast<mode_t>(m.mode)) != 0) fail(err, path);
                break;
            case ChildMount::symlink:
                if (::symlink(m.source.c_str(), path) != 0) fail(err, path);
                break;
            case ChildMount::bind_dir:
            case ChildMount::bind_file: {
                if (m.kind == ChildMount::bind_dir) {
                    if (mkdir(path, 0755) != 0) fail(err, path);
                } else {
                    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                    if (fd < 0) fail(err, path);
                    close(fd);
                }
                if (mount(m.source.c_str(), path, nullptr, MS_BIND | MS_REC, nullptr) != 0) fail(err, path);
                // A bind takes the source's flags; read-only needs a second, remounting call.
                if (m.remount_flags &&
                    mount(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | m.remount_flags, nullptr) != 0)
                    fail(err, path);
                break;
            }
        }
    }
    for (const ChildFile& f : p.files) {
        int fd = open(f.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || !write_all(fd, f.content->data(), f.content->size())) fail(err, f.path.c_str());
        close(fd);
    }
    // Swap roots and drop the old one: nothing of the host's tree stays reachable.
    if (syscall(SYS_pivot_root, ".", ".") != 0) fail(err, "pivot_root");
    if (umount2(".", MNT_DETACH) != 0) fail(err, "detach old root");
}

// Raw system calls: glibc's wrappers apply an id change to every thread of the process, and the
// child's copy of libc still lists the parent's threads, so they would wait forever for them.
void set_identity(const ChildPlan& p, int err) {
    if (p.clear_groups && syscall(SYS_setgroups, 0, nullptr) != 0) fail(err, "setgroups");
    if (p.gid != static_cast<gid_t>(-1) && syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0)
        fail(err, "setresgid");
    if (p.uid != static_cast<uid_t>(-1) && syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0)
        fail(err, "setresuid");
}

void setup_fds(const ChildPlan& p, int* err) {
    if (dup2(p.stdin_fd, 0) < 0 || dup2(p.stdout_fd, 1) < 0 || dup2(p.stderr_fd, 2) < 0) fail(*err, "dup2");
    if (*err != 3) {
        if (dup3(*err, 3, O_CLOEXEC) < 0) fail(*err, "dup3");
        *err = 3;
    }
    // Whatever other threads of the parent had open (without close-on-exec) must not leak in.
    if (syscall(SYS_close_range, 4u, ~0u, 0u) != 0) {
        struct rlimit r;
        rlim_t top = getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < 65536 ? r.rlim_cur : 65536;
        for (rlim_t fd = 4; fd < top; ++fd) close(static_cast<int>(fd));
    }
}

}  // namespace

int sandbox_child_main(void* arg) {
    const ChildPlan& p = *static_cast<const ChildPlan*>(arg);
    int err = p.error_fd;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (p.sync_fd >= 0) {
        char ok = 0;
        if (read(p.sync_fd, &ok, 1) != 1 || ok != 1) _exit(126);  // the parent could not map our ids
    }
    // Own session and process group: no controlling terminal, and kill(-pid) reaches every descendant
    // that does not leave the group (isolation none).
    if (setsid() < 0) fail(err, "setsid");
    umask(022);
    // Ids first: files the child creates in the tmpfs need a uid that the user namespace maps. Mount
    // capabilities survive: the namespace maps no uid 0 whose loss would clear them.
    set_identity(p, err);
    // Die with the thread that started us rather than outlive a crashed Stride (after the id change,
    // which resets this setting).
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(err, "pdeathsig");
    if (p.namespaces) build_root(p, err);
    if (chdir(p.workdir.c_str()) != 0) fail(err, "chdir to work dir");
    for (const ChildLimit& l : p.limits) {
        struct rlimit r = {l.soft, l.hard};
        if (setrlimit(static_cast<__rlimit_resource_t>(l.resource), &r) != 0) fail(err, "setrlimit");
    }
    setup_fds(p, &err);
    if (p.filter) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(err, "no_new_privs");
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, p.filter) != 0) fail(err, "seccomp filter");
    }
    execve(p.argv[0], p.argv, p.envp);
    fail(err, "execve");
}

}  // namespace stride
