// Sandbox: runs one untrusted command (model-written Python, for the code_exec reward) isolated from
// the machine, with only kernel features and libseccomp, no daemon and no privileges:
//
//   namespaces   a new user namespace (the program runs as an unprivileged uid, never as root, even when
//                Stride runs as root), network (only a loopback that is down: no connection anywhere),
//                pid (the program is pid 1 there: when it ends or is killed, all its descendants die),
//                mount (a fresh size-capped tmpfs as root, /usr and the library folders bound
//                read-only, /work as cwd; nothing else of the host's files is visible), ipc and uts.
//   rlimits      CPU time, address space, processes, file size, open files, no core dumps. The process
//                limit counts the tasks of the sandbox's uid in its own user namespace (Linux >= 5.14),
//                so a fork bomb meets it whatever else runs on the machine.
//   seccomp      an allow-list (reward/sandbox/sandbox_seccomp.cpp): what Python needs to run ordinary
//                programs (files, memory, threads, fork, pipes, AF_UNIX sockets, clocks, signals); any
//                other call kills the process (SIGSYS): reported as a violation (sockets of other
//                families, ptrace, mount, new namespaces, bpf, keyrings, ...); io_uring, clone3 and a
//                few others fail with ENOSYS (libraries fall back).
//   wall clock   SIGKILL at the time limit; output past output_bytes is read and dropped.
//
// SandboxIsolation::none keeps the rlimits and the syscall filter but no namespaces: for machines
// where user namespaces are off (Docker's default seccomp profile, kernel.unprivileged_userns_clone=0).
// Then the files live in a host temp dir and the host's files are readable (as nobody when Stride is
// root), the filter refuses every socket() (only socketpair stays) and kill(-1), descendants that leave
// the process group are not killed, concurrent sandboxes share one uid (they could signal each other), and
// RLIMIT_NPROC, counted per uid machine-wide, is set to that uid's current tasks plus `processes`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stride {

enum class SandboxIsolation { namespaces, none };

struct SandboxLimits {
    double wall_s = 10.0;           // SIGKILL after this; <= 0: no wall-clock limit
    double cpu_s = 0;               // RLIMIT_CPU of each process; <= 0: wall_s rounded up (none without)
    int64_t memory_mb = 1024;       // RLIMIT_AS of each process; 0: unlimited
    int processes = 32;             // RLIMIT_NPROC: tasks (threads too) of the sandbox uid
    int64_t file_mb = 16;           // RLIMIT_FSIZE: largest file a process may write
    int64_t disk_mb = 64;           // size of the tmpfs holding /work and /tmp (namespaces only)
    int open_files = 64;            // RLIMIT_NOFILE
    size_t output_bytes = 1 << 20;  // stdout and stderr are each kept up to this; the rest is dropped
    bool syscall_filter = true;     // the seccomp filter; off only to test the namespaces alone
};

struct SandboxFile {
    std::string name;  // plain file name inside the work dir
    std::string content;
};

struct SandboxJob {
    std::vector<std::string> argv;   // argv[0]: absolute path, visible inside (/usr/...)
    std::vector<SandboxFile> files;  // written into the work dir (the cwd) before the command starts
    std::string stdin_data;
    std::vector<std::string> env;  // NAME=value; HOME and TMPDIR are added. Nothing is inherited.
};

struct SandboxResult {
    bool started = false;  // false: the sandbox could not be set up; `error` says which step failed
    std::string error;
    int exit_code = -1;  // when the command exited
    int signal = 0;      // when a signal ended it (SIGKILL after timed_out)
    bool timed_out = false;
    std::string out, err;
    bool out_truncated = false, err_truncated = false;
    std::string limit;    // what stopped it, when known: "wall clock", "cpu time", "file size", "syscall"
    std::string workdir;  // the host temp dir used (removed before returning)
    double seconds = 0.0;
};

// Why SandboxIsolation::namespaces cannot work on this machine, or "" when it does. Probed once (a
// real sandboxed run of /bin/true) and cached; safe to call from any thread.
std::string sandbox_unavailable_reason();

// Thread-safe; blocks until the command ends or is killed. Never throws for what the command does;
// setup failures come back as started = false.
SandboxResult run_sandboxed(const SandboxJob& job, const SandboxLimits& limits, SandboxIsolation isolation);

}  // namespace stride
