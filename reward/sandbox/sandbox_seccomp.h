// The sandbox's syscall filter (reward/sandbox/sandbox.h), built with libseccomp: an allow-list. Every
// call not allowed here kills the process (SIGSYS, reported as a forbidden system call); a few that
// libraries probe and fall back from fail with ENOSYS instead. The tables are in sandbox_seccomp.cpp;
// tests/reward/sandbox/test_sandbox_escape.cpp tries the calls it refuses.
#pragma once
#include <linux/filter.h>

#include <span>
#include <string>
#include <vector>

namespace stride {

// The filter as a classic BPF program, built once and cached: the child between clone and exec may
// not allocate, so it only hands this to prctl(PR_SET_SECCOMP). Empty, with *why set, when libseccomp
// could not build it. in_namespaces: the program has its own network and pid namespaces, so
// socket(AF_UNIX) (it reaches nothing outside) and kill(-1) (it reaches only the sandbox) are allowed;
// otherwise only socketpair(AF_UNIX) is, and kill(-1) kills the caller.
const std::vector<sock_filter>& sandbox_seccomp_program(bool in_namespaces, std::string* why);

// The tables, for the test that checks them against libseccomp's syscall numbers of each architecture.
struct SandboxSyscallTables {
    std::span<const char* const> allowed;          // on x86_64 and aarch64, any arguments
    std::span<const char* const> allowed_x86_64;   // older forms aarch64 never had (open, fork, ...)
    std::span<const char* const> not_implemented;  // ENOSYS
    std::span<const char* const> never;  // may not appear above: refused, or allowed only by argument
};
SandboxSyscallTables sandbox_syscall_tables();

}  // namespace stride
