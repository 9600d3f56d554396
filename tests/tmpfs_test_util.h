// tests/tmpfs_test_util.h: runs a piece of a test on a small tmpfs (full disk) or a read-only one,
// in a child process with a mount namespace of its own, so that the mount disappears with the child
// whatever happens to it (and an abort in the child fails the test instead of the test binary).
#pragma once
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "common/base/error.h"

namespace stride::test {

// Runs fn in the child with a tmpfs of `size` on `mountpoint` (read-only if ro). The child writes
// fn's stride::Error text (or "OK", or "not a stride::Error: ...") to `result`. Returns false when this
// machine does not allow the mount (no CAP_SYS_ADMIN); a child that dies (abort) writes nothing.
inline bool run_on_tmpfs(const std::string& mountpoint, const std::string& size, bool ro,
                         const std::string& result, const std::function<void()>& fn) {
    std::filesystem::create_directories(mountpoint);
    std::filesystem::remove(result);
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) != 0 || mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            mount("tmpfs", mountpoint.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0)
            _exit(3);
        if (ro && mount(nullptr, mountpoint.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) != 0) _exit(3);
        std::string what = "OK";
        try {
            fn();
        } catch (const Error& e) {
            what = e.what();
        } catch (const std::exception& e) {
            what = std::string("not a stride::Error: ") + e.what();
        }
        std::ofstream(result) << what;
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 3);
}

inline std::string slurp_file(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace stride::test
